#!/usr/bin/env python3
"""Formats Latch's C sources with clang-format (the root .clang-format).

    python3 deploy/format.py            rewrite the files in place
    python3 deploy/format.py --check    change nothing; exit 1 and list the files that differ
    python3 deploy/format.py FILE...    only these files (paths from the checkout root or the
                                        current directory), e.g. the ones a change touches

Covers *.c and *.h under core/, connectors/, plugins-api/ and tests/ (the files git tracks when the
checkout is a git repository, plus untracked ones that are not ignored; else a directory walk).
The meson targets `format` and `format-check` run this script.
"""
import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIRS = ("core", "connectors", "plugins-api", "tests")
EXTS = (".c", ".h")
SKIP_PARTS = {"node_modules", ".git"}


def in_scope(path):
    parts = path.replace(os.sep, "/").split("/")
    return (
        parts[0] in DIRS
        and path.endswith(EXTS)
        and not SKIP_PARTS.intersection(parts)
        and not parts[0].startswith("build")
    )


def git_files():
    try:
        out = subprocess.run(
            ["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard",
             "--", *DIRS],
            check=True, capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [p for p in out.decode().split("\0") if p]


def walk_files():
    files = []
    for d in DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, d)):
            dirnames[:] = [x for x in dirnames if x not in SKIP_PARTS]
            for name in filenames:
                files.append(os.path.relpath(os.path.join(dirpath, name), ROOT))
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report, change nothing")
    ap.add_argument("--clang-format", default=os.environ.get("CLANG_FORMAT", "clang-format"))
    ap.add_argument("files", nargs="*", help="only these files (default: every C file in scope)")
    args = ap.parse_args()

    exe = shutil.which(args.clang_format)
    if exe is None:
        print(f"format.py: {args.clang_format} not found (Debian package clang-format)",
              file=sys.stderr)
        return 2

    if args.files:
        files = [os.path.relpath(os.path.abspath(f), ROOT) for f in args.files]
        outside = [f for f in files if not in_scope(f)]
        if outside:
            print(f"format.py: not C sources under {', '.join(DIRS)}: {' '.join(outside)}",
                  file=sys.stderr)
            return 2
    else:
        files = git_files()
        if files is None:
            files = walk_files()
    files = sorted(p for p in set(files) if in_scope(p) and os.path.isfile(os.path.join(ROOT, p)))
    if not files:
        print("format.py: no C files to format")
        return 0

    bad = []
    # In batches, to stay far below the argument-length limit.
    for i in range(0, len(files), 200):
        batch = files[i:i + 200]
        if args.check:
            for path in batch:
                r = subprocess.run([exe, "--dry-run", "--Werror", "--style=file", path],
                                   cwd=ROOT, capture_output=True, text=True)
                if r.returncode != 0:
                    bad.append(path)
        else:
            r = subprocess.run([exe, "-i", "--style=file", *batch], cwd=ROOT)
            if r.returncode != 0:
                return r.returncode

    if args.check:
        if bad:
            print("format.py: not clang-formatted (run `python3 deploy/format.py`):")
            for path in bad:
                print(f"  {path}")
            return 1
        print(f"format.py: {len(files)} files clean")
    else:
        print(f"format.py: formatted {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
