#!/usr/bin/env python3
"""Fails when a package the library builds declares a rust-version newer than the crate's.

Only the stable toolchain runs in CI, so this stands in for a build on the oldest compiler the
crate claims: every package in Cargo.lock that the library compiles as a normal or build
dependency (with its default features, and with all features; on every target platform;
dev-dependencies excluded) must declare a `rust-version` no newer than ours. A package that
declares none is reported but not failed (cargo cannot check it either).
"""
import json
import re
import subprocess
import sys


def version_tuple(text):
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def cargo(*args):
    return subprocess.run(["cargo", *args], check=True, capture_output=True, text=True).stdout


def used_packages(feature_args):
    """(name, version) of every package the library compiles, as cargo's feature resolver sees it."""
    tree = cargo("tree", "--locked", "--edges", "normal,build", "--target", "all",
                 "--prefix", "none", "--format", "{p}", *feature_args)
    used = set()
    for line in tree.splitlines():
        words = line.split()
        if len(words) >= 2 and words[1].startswith("v"):
            used.add((words[0], words[1][1:]))
    return used


def main():
    meta = json.loads(cargo("metadata", "--locked", "--format-version", "1", "--all-features"))
    root = meta["resolve"]["root"]
    packages = {(p["name"], p["version"]): p for p in meta["packages"]}
    ours = next(p for p in meta["packages"] if p["id"] == root)
    msrv = ours.get("rust_version")
    if not msrv:
        print(f"{ours['name']} declares no rust-version")
        return 1
    limit = version_tuple(msrv)
    failures, undeclared, checked = [], [], set()
    for label, args in (("default features", []), ("all features", ["--all-features"])):
        for key in sorted(used_packages(args)):
            if key == (ours["name"], ours["version"]) or key in checked:
                continue
            checked.add(key)
            declared = packages.get(key, {}).get("rust_version")
            if declared is None:
                undeclared.append(f"{key[0]} {key[1]}")
            elif version_tuple(declared) > limit:
                failures.append(f"{key[0]} {key[1]} needs Rust {declared} ({label})")
    print(f"rust-version {msrv}: {len(checked)} packages checked, "
          f"{len(undeclared)} declare none ({', '.join(undeclared) or '-'})")
    for failure in failures:
        print(f"MSRV violation: {failure}, newer than the crate's rust-version {msrv}")
    if failures:
        print("Fix: `cargo update` (this repository resolves for rust-version, see .cargo/config.toml),"
              " pin an older release, or raise rust-version deliberately.")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
