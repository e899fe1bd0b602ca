#!/usr/bin/env python3
"""Finds import circles between the files of src/fleet, src/local and src/tui.

Each file's `use` items and inline paths (`super::x`, `crate::a::b`) outside its tests are
resolved to the files of the same tree; a circle is two or more files that reach each other.
A `mod.rs` using its own children is not counted (it declares them). Prints each circle and
exits 1 when there is one. Run by scripts/test.sh; alone: python3 scripts/import_cycles.py
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
TREES = ["fleet", "local", "tui"]


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    return rel


def files():
    out = {}
    for tree in TREES:
        for folder, _, names in os.walk(os.path.join(ROOT, tree)):
            for name in names:
                if name.endswith(".rs"):
                    path = os.path.join(folder, name)
                    out[tuple(module_of(path))] = path
    return out


def strip_tests(text):
    # Test modules may import what they test from anywhere: only the code counts.
    index = text.find("#[cfg(test)]\nmod tests")
    return text if index < 0 else text[:index]


def expand_uses(text):
    """Every path named in `use` items (braces expanded) and inline `crate::`/`super::` paths."""
    paths = []
    for item in re.findall(r"\buse\s+([^;]+);", text, re.S):
        paths.extend(expand(item.replace("\n", " ").replace(" ", "")))
    paths.extend(re.findall(r"(?<![\w:])((?:crate|super|self)(?:::\w+)+)", text))
    return paths


def expand(item):
    match = re.match(r"^(.*?)\{(.*)\}$", item)
    if not match:
        return [item]
    prefix, inner = match.groups()
    parts, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    parts.append(current)
    out = []
    for part in parts:
        if part:
            out.extend(expand(prefix + part))
    return out


def resolve(module, path, known):
    segments = path.split("::")
    if segments[0] == "crate":
        base, rest = [], segments[1:]
    elif segments[0] in ("super", "self"):
        base = list(module)
        rest = segments
        # `super` from a file `a/b.rs` is `a`; from `a/b/mod.rs` it is `a` too.
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    else:
        return None
    target = base + rest
    # The longest prefix that is a file.
    for end in range(len(target), 0, -1):
        if tuple(target[:end]) in known:
            return tuple(target[:end])
    return None


def main():
    known = files()
    edges = {m: set() for m in known}
    for module, path in known.items():
        text = strip_tests(open(path, encoding="utf-8").read())
        for used in expand_uses(text):
            target = resolve(list(module), used.split(" as ")[0], known)
            if target and target != module and target[0] == module[0]:
                # A parent module (mod.rs) declaring its children is not an import.
                if target[: len(module)] == module:
                    continue
                edges[module].add(target)
    # Strongly connected components (Tarjan).
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in known:
        if v not in index:
            strong(v)
    for comp in comps:
        names = sorted("/".join(m) for m in comp)
        print("circle:", ", ".join(names))
        for m in sorted(comp):
            inside = sorted("/".join(t) for t in edges[m] if t in comp)
            print("   ", "/".join(m), "->", ", ".join(inside))
    if not comps:
        print("no import circle between the files of src/" + ", src/".join(TREES))
    return 1 if comps else 0


if __name__ == "__main__":
    sys.exit(main())
