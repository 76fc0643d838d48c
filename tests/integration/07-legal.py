#!/usr/bin/env python3
"""Licences and sources: every package of the image names its licence, the
built image carries a licence row and files for every component, and the
legal-info steps copy verified sources and fail loudly on a missing licence."""
import csv
import glob
import hashlib
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import OUT, ROOT, done, note, ok

SCRIPT = os.path.join(ROOT, "appliance", "scripts", "legal-info.sh")
packages = {}
for mk in sorted(glob.glob(os.path.join(ROOT, "appliance", "packages", "*", "*.mk"))):
    name = os.path.basename(mk)[:-3]
    text = open(mk).read()
    packages[name] = text
    up = name.upper().replace("-", "_")
    if "local-package" in text:
        ok(re.search(r"^%s_SUBDIR = \S+" % up, text, re.M), "%s: a local package names its folder" % name)
        continue
    ok(re.search(r"^%s_LICENSE = \S" % up, text, re.M), "%s: names its licence (%s_LICENSE)" % (name, up))
    ok(re.search(r"^%s_LICENSE_FILES = \S" % up, text, re.M), "%s: names its licence files" % name)

# the image built by make test: /usr/share/doc/pullbox/legal in its root filesystem
legal = os.path.join(OUT, "rootfs", "usr", "share", "doc", "pullbox", "legal")
if os.path.isfile(os.path.join(legal, "manifest.csv")):
    rows = list(csv.DictReader(open(os.path.join(legal, "manifest.csv"))))
    names = {r["package"]: r for r in rows}
    for name in packages:
        ok(name in names and names[name]["licence"], "image manifest: %s has a row with a licence" % name)
    hosts = [l.split("|")[0].strip() for l in open(os.path.join(ROOT, "appliance", "legal", "host-packages"))
             if l.strip() and not l.startswith("#")]
    for h in hosts:
        ok(h in names and "Debian source package" in names[h]["source"],
           "image manifest: host package %s names its source package" % h)
    for r in rows:
        prefix = ("host-" if r["package"] in hosts else "") + "%s-%s" % (r["package"], r["version"])
        if "this tree" in r["source"]:
            continue
        d = os.path.join(legal, "licenses", prefix)
        files = [os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs]
        ok(files and all(os.path.getsize(f) > 0 for f in files),
           "image: licence files of %s %s are there (%d)" % (r["package"], r["version"], len(files)))
    gpl = [r["package"] for r in rows if "GPL" in r["licence"]]
    ok({"linux", "busybox", "iptables", "syslinux-efi"} <= set(gpl),
       "the GPL components are marked GPL: %s" % ", ".join(gpl))
    ok(names.get("libgcc-12-dev", {}).get("licence") == "GPL-3.0-or-later WITH GCC-exception-3.1",
       "a licence of several words is kept whole")
else:
    note("no built image in %s (make image): its licence checks are left out" % OUT)

# the steps themselves, on zlib's downloaded sources (the image build fetched them)
zdl = os.path.join(OUT, "dl", "zlib")
zhash = os.path.join(ROOT, "appliance", "packages", "zlib", "zlib.hash")
if os.path.isdir(zdl):
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([SCRIPT, "source", tmp, "zlib", "1.2.13.dfsg-1", zhash, zdl, ""],
                           capture_output=True, text=True)
        ok(r.returncode == 0, "source step copies zlib's sources: %s" % r.stderr.strip())
        want = {l.split()[2]: l.split()[1] for l in open(zhash) if l.startswith("sha256")}
        got = {}
        for f in want:
            p = os.path.join(tmp, "sources", "zlib-1.2.13.dfsg-1", f)
            got[f] = hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.exists(p) else None
        ok(got == want, "the copied sources match the pinned sha256 (%d files)" % len(want))
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        open(os.path.join(src, "COPYING"), "w").write("licence text\n")
        r = subprocess.run([SCRIPT, "license", tmp, "demo", "1.0", "MIT", src, "COPYING", "LICENSE"],
                           capture_output=True, text=True)
        ok(r.returncode != 0 and "LICENSE is missing" in r.stderr,
           "a missing licence file stops the build, naming it: %s" % r.stderr.strip())
        r = subprocess.run([SCRIPT, "license", tmp, "demo", "1.0", "MIT", src, "COPYING"],
                           capture_output=True, text=True)
        ok(r.returncode == 0 and os.path.exists(os.path.join(tmp, "licenses", "demo-1.0", "COPYING")),
           "a present licence file is copied")
else:
    note("no downloaded sources in %s (make image): the step checks are left out" % zdl)
done()
