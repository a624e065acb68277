#!/usr/bin/env python3
"""Writes a deliberately altered copy of the frozen ABI 1.0 header, for the ABI check's own test.

usage: alter_header.py IN OUT MODE

MODE is one of:
  retype   struct latch_connector_field's `int required` becomes `long required`
  reorder  struct latch_connector_http_request's `method` and `url` swap places
  remove   struct latch_connector_user_info loses `phone`
  insert   struct latch_connector_host gets a member before `config_get`
  append   struct latch_connector_user_info gets a member after its last one (allowed)

abidiff must refuse the first four against the 1.0 baseline and accept the last. Fails when the
text to change is not found, so a reformatted header cannot turn the test into a no-op.
"""
import sys

EDITS = {
    "retype": ("    int required;", "    long required;"),
    "reorder": (
        "    const char *method;                                /* \"GET\", \"POST\"; NULL: GET */\n"
        "    const char *url;                                   /* https only */\n",
        "    const char *url;                                   /* https only */\n"
        "    const char *method;                                /* \"GET\", \"POST\"; NULL: GET */\n",
    ),
    "remove": ("    const char *phone;\n", ""),
    "insert": (
        "    const char *(*config_get)(",
        "    int inserted_in_the_middle;\n    const char *(*config_get)(",
    ),
    "append": (
        "    const char *raw_json; /* the whole upstream profile as a JSON object (kept as is) */\n",
        "    const char *raw_json; /* the whole upstream profile as a JSON object (kept as is) */\n"
        "    const char *appended_at_the_end;\n",
    ),
}


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[3] not in EDITS:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst, mode = sys.argv[1:]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    old, new = EDITS[mode]
    if text.count(old) != 1:
        print(f"alter_header.py: {mode}: expected exactly one {old!r} in {src}", file=sys.stderr)
        return 1
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text.replace(old, new))
    return 0


if __name__ == "__main__":
    sys.exit(main())
