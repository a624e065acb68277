#!/usr/bin/env python3
"""Copy the console's UI library from core/console/node_modules into the build (core/meson.build).

Usage: vendor.py OUTDIR PREACT HOOKS HTM

Writes OUTDIR/preact.js, OUTDIR/preact-hooks.js and OUTDIR/htm.js, the ES module builds of
preact, preact/hooks and htm as npm ships them (`npm ci` in core/console installs the versions
package-lock.json pins), with two changes so that a browser loads them from /ui/ without a
bundler or an import map (an inline import map would need the CSP to allow inline script):
the bare specifier "preact" in preact/hooks becomes "./preact.js", and the sourceMappingURL
comments go (the maps are not served). Fails when a file is missing or the specifier is not
found exactly once (a new preact release laid out differently must be looked at).
"""

import os
import re
import sys

SOURCE_MAP = re.compile(rb"\n?//# sourceMappingURL=\S*\s*$")


def fail(message):
    sys.stderr.write("vendor.py: %s\n" % message)
    sys.exit(1)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        fail("%s: %s (run `npm ci` in core/console; deploy/lib.sh's latch_build does)"
             % (path, e.strerror))


def write(outdir, name, data):
    path = os.path.join(outdir, name)
    with open(path + ".tmp", "wb") as f:
        f.write(SOURCE_MAP.sub(b"\n", data))
    os.replace(path + ".tmp", path)


def main(argv):
    if len(argv) != 5:
        fail("usage: vendor.py OUTDIR PREACT HOOKS HTM")
    outdir, preact, hooks, htm = argv[1:]
    hooks_data = read(hooks)
    specifier = b'from"preact"'
    if hooks_data.count(specifier) != 1:
        fail("%s: expected one import of \"preact\"" % hooks)
    write(outdir, "preact.js", read(preact))
    write(outdir, "preact-hooks.js", hooks_data.replace(specifier, b'from"./preact.js"'))
    write(outdir, "htm.js", read(htm))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
