"""Runs moto's server on a free loopback port for iotfleet's tests.

Prints the port on the first line, then serves until its standard input closes: the test process
holds the other end, so the server ends with it, even when the tests are killed.
"""

import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
