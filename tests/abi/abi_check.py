#!/usr/bin/env python3
"""Compares an object's connector ABI types with the committed 1.0 baseline (libabigail).

usage: abi_check.py ABIDIFF SUPPRESSIONS BASELINE OBJECT pass|fail

Two verdicts, both required for "no change":

1. `abidiff --suppressions SUPPRESSIONS BASELINE OBJECT` exits 0. The suppression allows members
   appended at the end of a struct (has_data_member_inserted_at = end).
2. `abidiff --leaf-changes-only BASELINE OBJECT` (no suppression) reports nothing but structs
   that grew at their end: a size change and member insertions at offsets at or past the old
   size. Needed because libabigail (2.2) lets that suppression hide more than appended members:
   a retyped or a reordered member with no insertion at all is suppressed too.

`pass`: succeeds when neither finds a change. `fail`: succeeds when one does (and abidiff did not
fail to run), which proves the check can fail.
"""
import re
import subprocess
import sys

ERROR_BITS = 1 | 2  # ABIDIFF_ERROR, ABIDIFF_USAGE_ERROR

ALLOWED = [
    re.compile(r"^$"),
    re.compile(r"^Leaf changes summary: .*$"),
    re.compile(r"^Changed leaf types summary: .*$"),
    re.compile(r"^Removed/Changed/Added functions summary: 0 Removed, 0 Changed"
               r"(?: \(\d+ filtered out\))?, 0 Added functions?$"),
    re.compile(r"^Removed/Changed/Added variables summary: 0 Removed, 0 Changed"
               r"(?: \(\d+ filtered out\))?, 0 Added variables?$"),
]
STRUCT = re.compile(r"^'struct (\w+)' changed:$")
SIZE = re.compile(r"^  type size changed from (\d+) to (\d+) \(in bits\)$")
INSERTIONS = re.compile(r"^  \d+ data member insertions?:$")
INSERTED = re.compile(r"^    '.*', at offset (\d+) \(in bits\)$")


def run(cmd):
    print("$ " + " ".join(cmd))
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(res.stdout)
    print(f"abidiff exit status {res.returncode}\n")
    return res


def not_appends(report):
    """The lines of a leaf report that are not a struct growing at its end."""
    bad = []
    struct, old_size = None, None
    for line in report.splitlines():
        if any(p.match(line) for p in ALLOWED):
            continue
        m = STRUCT.match(line)
        if m:
            struct, old_size = m.group(1), None
            continue
        m = SIZE.match(line)
        if m and struct is not None and int(m.group(2)) > int(m.group(1)):
            old_size = int(m.group(1))
            continue
        if INSERTIONS.match(line) and old_size is not None:
            continue
        m = INSERTED.match(line)
        if m and old_size is not None and int(m.group(1)) >= old_size:
            continue
        bad.append(line)
    return bad


def main() -> int:
    if len(sys.argv) != 6 or sys.argv[5] not in ("pass", "fail"):
        print(__doc__, file=sys.stderr)
        return 2
    abidiff, suppr, baseline, obj, expect = sys.argv[1:]
    suppressed = run([abidiff, "--no-show-locs", "--suppressions", suppr, baseline, obj])
    leaves = run([abidiff, "--no-show-locs", "--leaf-changes-only", baseline, obj])
    if suppressed.returncode & ERROR_BITS or leaves.returncode & ERROR_BITS:
        print("abidiff failed to compare (see above)")
        return 1
    bad = not_appends(leaves.stdout)
    changed = suppressed.returncode != 0 or bool(bad)
    if bad:
        print("changes that are not members appended at the end of a struct:")
        for line in bad:
            print("  " + line)
    if expect == "pass" and changed:
        print("FAIL: the ABI 1.0 types changed; 1.x may only append members at the end of "
              "sized structs (plugins-api/ABI.md)")
        return 1
    if expect == "fail" and not changed:
        print("FAIL: a header that breaks ABI 1.0 passed: the check cannot fail")
        return 1
    print("ok: " + ("no change but appended members" if not changed else "the change was found"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
