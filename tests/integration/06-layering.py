#!/usr/bin/env python3
"""pullboxd's modules call each other one way only (docs/architecture.md): no
module reaches, through the functions and tables it names, a module that
names it back. Read from the built objects (nm), so a call added anywhere
is seen whatever header it came through. Also: the connection layer and the
transports name no module of the request, subscription or publish layers,
and every transport in transports[] is a file of its own, whose id is its
place in the table."""
import collections
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import OUT, ROOT, done, ok

objdir = next((d for d in (os.path.join(OUT, "server-obj"), os.path.join(OUT, "server-obj-san"))
               if glob.glob(os.path.join(d, "*.o"))), None)
ok(objdir is not None, "the server's objects are built (%s/server-obj)" % OUT)
if objdir is None:
    done()

defined, wanted = {}, collections.defaultdict(set)
for obj in sorted(glob.glob(os.path.join(objdir, "*.o"))):
    mod = os.path.basename(obj)[:-2]
    for line in subprocess.run(["nm", obj], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "TDBR":
            defined[f[2]] = mod
        elif len(f) == 2 and f[0] == "U":
            wanted[mod].add(f[1])
sources = {os.path.basename(p)[:-2] for p in glob.glob(os.path.join(ROOT, "server/src/*.c"))}
mods = sorted(m for m in wanted if m in sources)
graph = {m: {defined[s] for s in wanted[m] if defined.get(s) not in (None, m)} for m in mods}
ok(len(mods) > 30 and "conn" in graph and "sub" in graph,
   "the module graph is read (%d modules)" % len(mods))


def reach(start):
    seen, todo = set(), [start]
    while todo:
        for n in graph.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


cycles = ["%s -> %s" % (a, b) for a in mods for b in sorted(graph[a]) if a in reach(b)]
ok(not cycles, "no module names one that names it back: %s" % (", ".join(cycles) or "none"))

upper = {"server", "worker", "http", "pub", "rpc", "stats", "client", "sub", "publish"}
transports = sorted(m for m in mods if m.startswith("transport_"))
for low in ["conn", "http_request", "http_respond", "gauges"] + transports:
    up = sorted(reach(low) & upper)
    ok(not up, "%s reaches no request, subscription or publish module (%s)" %
       (low, ", ".join(up) or "none"))

table = open(os.path.join(ROOT, "server/src/transport.c")).read()
entries = re.findall(r"&(transport_\w+),", table)
ok(len(entries) >= 3, "transports[] lists the transports (%s)" % ", ".join(entries))
for i, e in enumerate(entries):
    ok(e in transports and defined.get(e) == e,
       "%s is defined in a file of its own (%s.c)" % (e, e))
    src = open(os.path.join(ROOT, "server/src/%s.c" % e)).read()
    m = re.search(r"\.id = (\d+),", src)
    ok(m is not None and int(m.group(1)) == i,
       "%s's id is its place in transports[] (%d): its gauges are its own" % (e, i))
done()
