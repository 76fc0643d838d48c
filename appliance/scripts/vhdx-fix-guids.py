#!/usr/bin/env python3
"""Usage: vhdx-fix-guids.py FILE.vhdx

Makes a VHDX written by qemu-img reproducible: qemu-img fills the headers'
FileWriteGuid, DataWriteGuid and sequence numbers, the log entry's LogGuid
and the disk's Page83Data with random values. They are replaced with fixed
ones (keeping which header is current), and the CRC-32C checksums of the
headers and the log entry are recomputed. Exit 0 when done, 1 on a file
that is not a VHDX of the expected layout, 100 on usage errors."""
import struct
import sys
import uuid

KIB = 1024
REGION_METADATA = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
ITEM_PAGE83 = uuid.UUID("BECA12AB-B2E6-4523-93EF-C309E000C746").bytes_le


def crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def fixed_guid(n):
    return uuid.UUID("5a1e0000-0000-4000-8000-%012x" % n).bytes_le


def die(msg):
    sys.stderr.write("vhdx-fix-guids: %s\n" % msg)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(100)
    with open(sys.argv[1], "r+b") as f:
        data = bytearray(f.read(4 * 1024 * KIB))
        if data[0:8] != b"vhdxfile":
            die("%s: not a VHDX file" % sys.argv[1])
        offs = (64 * KIB, 128 * KIB)
        seqs = [struct.unpack_from("<Q", data, o + 8)[0] for o in offs]
        order = sorted(range(2), key=lambda i: seqs[i])
        log_off = log_len = None
        for rank, i in enumerate(order):
            o = offs[i]
            if data[o:o + 4] != b"head":
                die("header %d: bad signature" % i)
            struct.pack_into("<Q", data, o + 8, rank + 1)
            data[o + 16:o + 32] = fixed_guid(0x10)   # FileWriteGuid
            data[o + 32:o + 48] = fixed_guid(0x11)   # DataWriteGuid
            struct.pack_into("<I", data, o + 4, 0)
            struct.pack_into("<I", data, o + 4, crc32c(data[o:o + 4 * KIB]))
            log_len, log_off = struct.unpack_from("<IQ", data, o + 68)
            if data[o + 48:o + 64] != bytes(16):
                die("header %d: a log is pending (LogGuid set)" % i)
        # the log region holds the entries qemu wrote while creating the
        # file, each with the LogGuid it made up (4 KiB aligned, "loge")
        f.seek(log_off)
        log = bytearray(f.read(log_len))
        pos = 0
        while pos + 64 <= len(log):
            if log[pos:pos + 4] != b"loge":
                pos += 4 * KIB
                continue
            elen = struct.unpack_from("<I", log, pos + 8)[0]
            if elen < 4 * KIB or pos + elen > len(log):
                die("log entry at %d: bad length %d" % (pos, elen))
            log[pos + 32:pos + 48] = fixed_guid(0x12)
            struct.pack_into("<I", log, pos + 4, 0)
            struct.pack_into("<I", log, pos + 4, crc32c(log[pos:pos + elen]))
            pos += elen
        f.seek(log_off)
        f.write(log)
        # region table at 192 KiB: find the metadata region, then Page83Data
        rt = 192 * KIB
        if data[rt:rt + 4] != b"regi":
            die("bad region table")
        count = struct.unpack_from("<I", data, rt + 8)[0]
        meta = None
        for k in range(count):
            e = rt + 16 + 32 * k
            if bytes(data[e:e + 16]) == REGION_METADATA:
                meta = struct.unpack_from("<Q", data, e + 16)[0]
        if meta is None:
            die("no metadata region")
        f.seek(meta)
        m = bytearray(f.read(64 * KIB))
        if m[0:8] != b"metadata":
            die("bad metadata table")
        n = struct.unpack_from("<H", m, 10)[0]
        for k in range(n):
            e = 32 + 32 * k
            if bytes(m[e:e + 16]) == ITEM_PAGE83:
                ioff = struct.unpack_from("<I", m, e + 16)[0]
                f.seek(meta + ioff)
                f.write(fixed_guid(0x13))
        f.seek(0)
        f.write(data[:256 * KIB])


if __name__ == "__main__":
    main()
