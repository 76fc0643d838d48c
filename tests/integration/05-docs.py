#!/usr/bin/env python3
"""README.md documents every config key with its current default and help,
exactly as `pullboxd --print-config` prints them, and the commands it gives
exist in the Makefile."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import ROOT, binary, done, ok

out = subprocess.run([binary(), "--print-config"], capture_output=True, text=True).stdout
readme = open(os.path.join(ROOT, "README.md")).read()
rows = {}
for m in re.finditer(r"^\| `([a-z0-9-]+)` \| (.*?) \| (.*) \|$", readme, re.M):
    rows[m.group(1)] = (m.group(2), m.group(3))

keys = []
help_lines = []
for line in out.splitlines()[2:]:
    if line.startswith("# "):
        help_lines.append(line[2:])
    elif " = " in line:
        key, default = line.split(" = ", 1)
        keys.append((key, default, " ".join(help_lines)))
        help_lines = []
    else:
        help_lines = []

ok(len(keys) > 30, "pullboxd --print-config lists the keys (%d)" % len(keys))
for key, default, helptext in keys:
    row = rows.get(key)
    shown = "`%s`" % default if default else "(none)"
    ok(row is not None and row[0] == shown and row[1] == helptext,
       "README documents %s = %s as the server does" % (key, shown))

makefile = open(os.path.join(ROOT, "Makefile")).read()
for target in ("run", "test"):
    ok(re.search(r"^%s:" % target, makefile, re.M) and ("make " + target) in readme,
       "README's `make %s` is a Makefile target" % target)
done()
