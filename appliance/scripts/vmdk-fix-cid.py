#!/usr/bin/env python3
"""Usage: vmdk-fix-cid.py FILE.vmdk

Makes a sparse (streamOptimized) VMDK written by qemu-img reproducible:
qemu-img draws a random content id and writes it in hex without leading
zeros, so "CID=" is followed by 1 to 8 digits. The embedded descriptor is
parsed line by line (not searched for a pattern: "parentCID=ffffffff" also
holds "CID=" and 8 hex digits), its CID line is replaced with a fixed one,
the text is written back padded with NULs in its region, and the result is
read again: exactly one CID line with the fixed value and a parentCID of
ffffffff (a base disk, no parent). Exit 0 when done, 1 on a file that is
not a VMDK of the expected layout, 100 on usage errors."""
import re
import struct
import sys

FIXED_CID = "5a1e0001"
SECTOR = 512


def die(msg):
    sys.stderr.write("vmdk-fix-cid: %s\n" % msg)
    sys.exit(1)


def descriptor_region(f, name):
    head = f.read(SECTOR)
    if len(head) < 44 or head[0:4] != b"KDMV":
        die("%s: not a sparse VMDK (no KDMV header)" % name)
    off, size = struct.unpack_from("<QQ", head, 28)
    if off == 0 or size == 0 or size > 2048:
        die("%s: no embedded descriptor (offset %d, %d sectors)" % (name, off, size))
    return off * SECTOR, size * SECTOR


def read_lines(f, off, size, name):
    f.seek(off)
    region = f.read(size)
    if len(region) != size:
        die("%s: descriptor region is cut short" % name)
    text = region.split(b"\0", 1)[0].decode("ascii", "strict")
    if not text.startswith("# Disk DescriptorFile\n"):
        die("%s: the descriptor does not start with '# Disk DescriptorFile'" % name)
    return text.split("\n")


def check(lines, name, cid_re):
    cids = [l for l in lines if re.fullmatch(r"CID=[0-9a-fA-F]+", l)]
    parents = [l for l in lines if l.startswith("parentCID=")]
    if len(cids) != 1 or not re.fullmatch(cid_re, cids[0]):
        die("%s: expected one CID line matching %s, found %r" % (name, cid_re, cids))
    if parents != ["parentCID=ffffffff"]:
        die("%s: expected parentCID=ffffffff (a disk without parent), found %r" % (name, parents))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(100)
    name = sys.argv[1]
    with open(name, "r+b") as f:
        off, size = descriptor_region(f, name)
        lines = read_lines(f, off, size, name)
        check(lines, name, r"CID=[0-9a-f]{1,8}")
        lines = ["CID=" + FIXED_CID if re.fullmatch(r"CID=[0-9a-f]+", l) else l for l in lines]
        text = "\n".join(lines).encode("ascii")
        if len(text) >= size:
            die("%s: the new descriptor (%d bytes) does not fit in %d" % (name, len(text), size))
        f.seek(off)
        f.write(text + b"\0" * (size - len(text)))
        f.flush()
        f.seek(0)
        check(read_lines(f, off, size, name), name, "CID=" + FIXED_CID)


if __name__ == "__main__":
    main()
