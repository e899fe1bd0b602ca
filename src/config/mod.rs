//! Where iotfleet keeps its files (XDG paths); later also config, keymap and theme files.
//! Reads the environment; never touches the terminal.

pub mod paths;
