#!/usr/bin/env python3
"""Checks the include graph between the folders of the library and the recipes: every
`#include "torchtune_cpp/..."` (and `#include "recipes/..."`) of the files under torchtune_cpp/
and recipes/ must follow an allowed arrow (docs/architecture.md lists them).

    python tests/scripts/check_dependencies.py [<repo-root>]

Prints one line per forbidden arrow (`file:line: <from-folder> -> <to-folder> is not allowed`)
and exits 1 if there is any, else exits 0.
"""
import pathlib
import re
import sys

LIBRARY = ["utils", "core", "config", "modules", "models", "data", "checkpointing", "training",
           "distributed"]

# What each folder may include besides itself. The library's lower folders first: each arrow
# points down, so the graph has no cycle and each folder builds on what is below it.
ALLOWED = {
    "utils": set(),
    "core": {"utils"},
    "config": {"utils"},
    "modules": {"core", "config", "utils"},
    "models": {"modules", "core", "config", "utils"},
    # Data prepares token sequences for any model: it knows tokenizers (modules), not models.
    "data": {"modules", "core", "config", "utils"},
    "checkpointing": {"models", "modules", "core", "config", "utils"},
    # The training pieces (optimizer, schedules, recipe state) know neither checkpoint files,
    # nor datasets, nor process groups: those are wired together by the recipes.
    "training": {"modules", "models", "core", "config", "utils"},
    "distributed": {"training", "checkpointing", "models", "modules", "core", "config", "utils"},
    # The component registration names what configs can build, from every library folder.
    "components": set(LIBRARY),
    "cli": set(LIBRARY) | {"components"},
    "recipes": set(LIBRARY) | {"components", "cli"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"((?:torchtune_cpp|recipes)/[^"]+)"')
SOURCE_SUFFIXES = {".h", ".hpp", ".cpp", ".cc", ".cu", ".cuh"}


def folder_of(path: str) -> str:
    """The folder of a path relative to the repository root, e.g.
    torchtune_cpp/modules/tokenizers/message.h -> modules, recipes/x.cpp -> recipes."""
    parts = path.split("/")
    if parts[0] == "recipes":
        return "recipes"
    if parts[0] == "torchtune_cpp":
        if len(parts) == 2:
            stem = parts[1].rsplit(".", 1)[0]
            return "components" if stem == "components" else "torchtune_cpp/" + parts[1]
        return parts[1]
    return path


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
    errors = []
    files = [p for top in ("torchtune_cpp", "recipes") for p in sorted((root / top).rglob("*"))
             if p.is_file() and p.suffix in SOURCE_SUFFIXES]
    if not files:
        print(f"no sources found under {root}/torchtune_cpp and {root}/recipes")
        return 1
    for path in files:
        rel = path.relative_to(root).as_posix()
        src = folder_of(rel)
        if src not in ALLOWED:
            errors.append(f"{rel}:1: {src} is not a known folder (add it to {__file__})")
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            match = INCLUDE.match(line)
            if not match:
                continue
            dst = folder_of(match.group(1))
            if dst != src and dst not in ALLOWED[src]:
                errors.append(f"{rel}:{number}: {src} -> {dst} is not allowed")
    for error in errors:
        print(error)
    if not errors:
        print(f"ok: {len(files)} files follow the allowed include arrows")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
