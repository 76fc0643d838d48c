#!/usr/bin/env python3
"""pullbox-growdata --table on disk image files laid out as mkdisk.sh lays out
the appliance's disk: a disk that was not enlarged is left byte for byte as it
was; an enlarged one gets its last partition grown to the new end (MiB
aligned) with the backup GPT moved there, which sfdisk verifies; running it
again changes nothing; a table it cannot trust (bad CRC, a disk smaller than
its table, a partition that is not the last) is refused and left untouched.
The growth of the filesystem and the kernel's view are checked by the boot
test (tests/image), which enlarges the qcow2 between two boots."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from pbtest import done, ok
from approot import config_ui_binary

TOOL = config_ui_binary("pullbox-growdata")
MIB = 1 << 20


def make_disk(path, mib):
    # the layout of mkdisk.sh, scaled down: ESP, system, data (last, 1 MiB left free)
    total = mib * 2048
    with open(path, "wb") as f:
        f.truncate(mib * MIB)
    table = ("label: gpt\nfirst-lba: 2048\n"
             "start=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"ESP\"\n"
             "start=10240, size=16384, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=\"pullbox-system\"\n"
             "start=26624, size=%d, type=3B8F8425-20E0-4F3B-907F-1A25A76F98E8, name=\"pullbox-data\"\n"
             % (total - 26624 - 2048))
    subprocess.run(["sfdisk", "-q", "--no-reread", "--no-tell-kernel", path], input=table, text=True,
                   check=True)
    with open(path, "r+b") as f:  # something recognisable in the data partition
        f.seek(26624 * 512)
        f.write(b"pullbox-data-marker" * 1000)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def parts(path):
    r = subprocess.run(["sfdisk", "-J", path], capture_output=True, text=True)
    return json.loads(r.stdout)["partitiontable"] if r.returncode == 0 else None


def verify(path):
    r = subprocess.run(["sfdisk", "--verify", path], capture_output=True, text=True)
    return r.returncode == 0 and "No errors detected" in r.stdout, r.stdout + r.stderr


def grow(path, pno="3"):
    return subprocess.run([TOOL, "--table", path, pno], capture_output=True, text=True, timeout=30)


def main():
    tmp = tempfile.mkdtemp(prefix="pb-growdata-")
    try:
        disk = os.path.join(tmp, "disk.raw")
        make_disk(disk, 64)
        before = sha(disk)
        r = grow(disk)
        ok(r.returncode == 0 and "already fills" in r.stdout and sha(disk) == before,
           "a disk that was not enlarged: nothing written (%s)" % (r.stdout + r.stderr).strip())

        with open(disk, "r+b") as f:
            f.truncate(96 * MIB)
        r = grow(disk)
        pt = parts(disk)
        data = pt and pt["partitions"][2]
        ok(r.returncode == 0 and "partition 3: 50 -> 82 MiB" in r.stdout,
           "enlarged by 32 MiB: the data partition grows to the new end (%s)" % (r.stdout + r.stderr).strip())
        ok(data and data["start"] + data["size"] == 96 * 2048 - 2048 and data["name"] == "pullbox-data",
           "it ends 1 MiB before the disk's end, on a MiB boundary: %s" % data)
        ok(pt and pt["lastlba"] == 96 * 2048 - 34, "the GPT's last usable LBA is the new one: %s" % (pt and pt["lastlba"]))
        good, out = verify(disk)
        ok(good, "sfdisk --verify: the primary and the moved backup GPT agree %s" % ("" if good else out))
        with open(disk, "rb") as f:
            f.seek(26624 * 512)
            ok(f.read(19000) == b"pullbox-data-marker" * 1000, "the partition's data is untouched")
            f.seek((64 * 2048 - 1) * 512)
            ok(f.read(512) == bytes(512), "the old backup GPT header is cleared")
            f.seek(0)
            mbr = f.read(512)
            ok(int.from_bytes(mbr[446 + 12:446 + 16], "little") == 96 * 2048 - 1,
               "the protective MBR covers the enlarged disk")
        grown = sha(disk)
        r = grow(disk)
        ok(r.returncode == 0 and "already fills" in r.stdout and sha(disk) == grown,
           "run again: nothing to do, nothing written")

        # a table it cannot trust: refused, nothing written
        with open(disk, "r+b") as f:
            f.truncate(128 * MIB)
            f.seek(512 + 16)
            crc = f.read(4)
            f.seek(512 + 16)
            f.write(bytes(b ^ 0xFF for b in crc))
        before = sha(disk)
        r = grow(disk)
        ok(r.returncode == 1 and "CRC" in r.stderr and sha(disk) == before,
           "a GPT header with a bad CRC is refused, untouched: %s" % r.stderr.strip())
        with open(disk, "r+b") as f:
            f.seek(512 + 16)
            f.write(crc)
        before = sha(disk)
        r = grow(disk, "2")
        ok(r.returncode == 1 and "not the last one" in r.stderr and sha(disk) == before,
           "a partition that is not the last is refused: %s" % r.stderr.strip())
        shrunk = os.path.join(tmp, "shrunk.raw")
        make_disk(shrunk, 64)
        with open(shrunk, "r+b") as f:
            f.truncate(48 * MIB)
        before = sha(shrunk)
        r = grow(shrunk)
        ok(r.returncode == 1 and "smaller than its GPT" in r.stderr and sha(shrunk) == before,
           "a disk smaller than its table says is refused, untouched: %s" % r.stderr.strip())
        r = subprocess.run([TOOL, "--table", disk, "0"], capture_output=True, text=True)
        ok(r.returncode == 100, "a bad partition number is a usage error")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
