#!/usr/bin/env python3
"""appliance/scripts/mkformats.sh makes the same vmdk from the same raw every
time, whatever content id qemu-img draws: qemu-img writes the random CID in
hex without leading zeros, so about one conversion in 16 has a 7-digit CID
(and fewer digits now and then). The script runs for real, with the real
qemu-img behind a wrapper that converts again until the CID drawn has the
number of digits the check wants (genuine draws, not edited ones)."""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import ROOT, done, note, ok

MKFORMATS = os.path.join(ROOT, "appliance", "scripts", "mkformats.sh")
QEMU_IMG = shutil.which("qemu-img")
WRAPPER = r"""#!/bin/sh
# qemu-img, converting again until the vmdk's CID has $PB_CID_DIGITS digits
for i in $(seq 1 400); do
	"%s" "$@" || exit $?
	case " $* " in *" vmdk "*) ;; *) exit 0 ;; esac
	eval out=\${$#}
	cid=$(head -c 12288 "$out" | tr -d '\000' | sed -n 's/^CID=//p')
	if [ ${#cid} -eq "$PB_CID_DIGITS" ]; then
		echo "$cid $i" >>"$PB_CID_LOG"
		exit 0
	fi
done
echo "no CID of $PB_CID_DIGITS digits in 400 conversions" >&2
exit 1
"""


def descriptor(path):
    with open(path, "rb") as f:
        head = f.read(512)
        off, size = struct.unpack_from("<QQ", head, 28)
        f.seek(off * 512)
        return f.read(size * 512).split(b"\0", 1)[0].decode()


def make_raw(path):
    # 8 MiB with a few recognisable blocks, the same bytes every time
    with open(path, "wb") as f:
        f.truncate(8 << 20)
        for i in range(0, 8 << 20, 1 << 20):
            f.seek(i + 4096 * (i >> 20))
            f.write(bytes((i >> 20) + k & 0xFF for k in range(4096)))


def convert(tmp, bindir, raw, out, digits):
    log = os.path.join(tmp, "cids.log")
    open(log, "w").close()
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"],
               PB_CID_DIGITS=str(digits), PB_CID_LOG=log)
    r = subprocess.run([MKFORMATS, raw, out], env=env, capture_output=True, text=True, timeout=120)
    drawn = open(log).read().split()
    return r, drawn


def main():
    tmp = tempfile.mkdtemp(prefix="pb-vmdk-")
    try:
        bindir = os.path.join(tmp, "bin")
        os.mkdir(bindir)
        with open(os.path.join(bindir, "qemu-img"), "w") as f:
            f.write(WRAPPER % QEMU_IMG)
        os.chmod(os.path.join(bindir, "qemu-img"), 0o755)
        # two builds: the same raw in two directories, converted to vmdk
        outs = []
        for build, digits in (("a", 7), ("b", 7), ("c", 8)):
            d = os.path.join(tmp, build)
            os.mkdir(d)
            raw = os.path.join(d, "disk.raw")
            make_raw(raw)
            out = os.path.join(d, "disk.vmdk")
            r, drawn = convert(tmp, bindir, raw, out, digits)
            note("build %s: qemu-img drew CID %s (conversion %s)" % (build, *(drawn or ["-", "-"])))
            ok(r.returncode == 0 and len(drawn) == 2 and len(drawn[0]) == digits,
               "build %s: mkformats.sh converts a raw whose vmdk drew a %d-digit CID %s"
               % (build, digits, r.stderr.strip()))
            if r.returncode != 0:
                continue
            text = descriptor(out)
            lines = text.split("\n")
            ok([l for l in lines if re.match(r"CID=", l)] == ["CID=5a1e0001"],
               "build %s: the descriptor has one CID line, CID=5a1e0001" % build)
            ok([l for l in lines if l.startswith("parentCID=")] == ["parentCID=ffffffff"],
               "build %s: parentCID=ffffffff (a disk without parent)" % build)
            ok('SPARSE "disk.vmdk"' in text, "build %s: the extent names the file itself" % build)
            chk = subprocess.run([QEMU_IMG, "check", "-q", "-f", "vmdk", out], capture_output=True, text=True)
            ok(chk.returncode == 0, "build %s: qemu-img check passes %s" % (build, chk.stderr.strip()))
            cmp = subprocess.run([QEMU_IMG, "compare", "-q", "-f", "raw", "-F", "vmdk", raw, out],
                                 capture_output=True, text=True)
            ok(cmp.returncode == 0, "build %s: the vmdk holds the raw's bytes %s" % (build, cmp.stdout.strip()))
            outs.append(open(out, "rb").read())
        ok(len(outs) == 3 and outs[0] == outs[1] == outs[2],
           "the three builds (7, 7 and 8-digit CIDs drawn) give identical vmdk files")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
