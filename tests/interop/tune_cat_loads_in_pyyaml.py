#!/usr/bin/env python3
"""`tune cat` output read back by PyYAML (what torchtune's own `tune cat` uses) gives the
same data as the shipped config file, for every built-in config, sorted and unsorted.

usage: tune_cat_loads_in_pyyaml.py <path-to-tune> <repo-root>
"""
import pathlib
import subprocess
import sys

import yaml


def main() -> int:
    tune, root = sys.argv[1], pathlib.Path(sys.argv[2])
    configs = sorted((root / "configs").rglob("*.yaml"))
    assert configs, "no shipped configs found"
    for path in configs:
        name = str(path.relative_to(root / "configs").with_suffix(""))
        want = yaml.safe_load(path.read_text())
        for extra in ([], ["--sort"]):
            out = subprocess.run([tune, "cat", name, *extra], check=True, capture_output=True, text=True).stdout
            got = yaml.safe_load(out)
            if got != want:
                print(f"FAIL {name} {extra}: PyYAML reads different data\n{out}")
                return 1
            if extra and list(got) != sorted(got):
                print(f"FAIL {name} --sort: keys not sorted")
                return 1
        print(f"ok {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
