#!/usr/bin/env python3
"""The disk mkdisk.sh writes, checked from the host (no boot): two system
slots of one size (pullbox-system-a holding the squashfs, pullbox-system-b
empty), the data partition last and named pullbox-data (pullbox-growdata
grows the last partition), fixed GUIDs; on the ESP, slot a's kernel,
initramfs and version and one boot menu for BIOS and UEFI with a label per
slot and DEFAULT a; two runs give the same bytes. Also pullbox-update-copy,
which copies a bundle into root's folder before it is verified: a regular
file is copied whole, a symbolic link, a FIFO, a folder link on the way and
a destination folder others may write are refused, and nothing is left.
And pullbox-kexec's contract (the initramfs starts a trial with it): usage
100, a missing file 111 naming it, a file that is no kernel refused (1,
"refused: ..."; never a real kernel: the host's would load it). And
pullbox-watchdog's (the initramfs arms the VM's watchdog for a trial with it):
usage 100 for a missing or out-of-range SECONDS, 1 naming the lack where the
host has no watchdog device (where it has one it is never touched: it would
arm the host's)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from pbtest import ROOT, done, note, ok
from approot import config_ui_binary

MKDISK = os.path.join(ROOT, "appliance", "scripts", "mkdisk.sh")
CFG = os.path.join(ROOT, "appliance", "configs", "syslinux.cfg")
COPY = config_ui_binary("pullbox-update-copy")
KEXEC = config_ui_binary("pullbox-kexec")
WATCHDOG = config_ui_binary("pullbox-watchdog")


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def mtype(disk, start, path):
    r = subprocess.run(["mtype", "-i", "%s@@%d" % (disk, start * 512), path], capture_output=True,
                       env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    return r.stdout if r.returncode == 0 else None


def check_layout(tmp):
    if not all(shutil.which(t) for t in ("mksquashfs", "unsquashfs", "mtype", "sfdisk", "syslinux")) \
            or not os.path.exists("/usr/lib/SYSLINUX.EFI/efi64/syslinux.efi"):
        note("skipped the disk layout: squashfs-tools, mtools or syslinux missing")
        return
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "etc", "pullbox-version"), "w") as f:
        f.write("0.2.0\n")
    system = os.path.join(tmp, "system.squashfs")
    # one thread and a small cache: a busy machine once made the default (a thread per CPU, a
    # quarter of the memory) fail here; its message is kept if it fails again
    # the times come from SOURCE_DATE_EPOCH, set here: mksquashfs refuses it beside -all-time, and
    # CI's environment sets it
    r = subprocess.run(["mksquashfs", root, system, "-all-root", "-noappend", "-quiet",
                        "-processors", "1", "-mem", "64M"], capture_output=True, text=True,
                       env=dict(os.environ, SOURCE_DATE_EPOCH="0"))
    if not ok(r.returncode == 0, "mksquashfs makes the test's system image (%d %s)"
              % (r.returncode, r.stderr[-800:].strip())):
        return
    kernel, initrd = os.path.join(tmp, "vmlinuz"), os.path.join(tmp, "initrd.img")
    for p, content in ((kernel, b"kernel" * 1000), (initrd, b"initrd" * 1000)):
        with open(p, "wb") as f:
            f.write(content)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    disks = []
    for n in (1, 2):
        d = os.path.join(tmp, "disk%d.raw" % n)
        r = subprocess.run([MKDISK, kernel, initrd, system, CFG, d], env=env, capture_output=True, text=True)
        ok(r.returncode == 0, "mkdisk.sh run %d writes the disk" % n)
        if r.returncode != 0:
            note(r.stderr)
            return
        disks.append(d)
    ok(sha(disks[0]) == sha(disks[1]), "two runs of mkdisk.sh give the same bytes")
    disk = disks[0]
    table = json.loads(subprocess.run(["sfdisk", "-J", disk], capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]
    parts = table["partitions"]
    names = [p.get("name") for p in parts]
    ok(names == ["ESP", "pullbox-system-a", "pullbox-system-b", "pullbox-data"],
       "partitions: ESP, pullbox-system-a, pullbox-system-b, pullbox-data (%s)" % names)
    if len(parts) != 4:
        return
    esp, a, b, data = parts
    ok(a["size"] == b["size"] and a["size"] * 512 >= 256 << 20,
       "both system slots have the same size, at least 256 MiB (%d, %d sectors)" % (a["size"], b["size"]))
    ok(data["start"] == max(p["start"] for p in parts) and
       data["start"] + data["size"] <= table["lastlba"] + 1 and data["start"] > b["start"] + b["size"] - 1,
       "the data partition is the last one (pullbox-growdata grows it)")
    ok([p["uuid"] for p in parts] == ["5A1E0001-0000-4000-8000-000000000001",
                                      "5A1E0002-0000-4000-8000-000000000002",
                                      "5A1E0004-0000-4000-8000-000000000004",
                                      "5A1E0003-0000-4000-8000-000000000003"],
       "fixed partition GUIDs (the data partition keeps the one it had)")
    with open(disk, "rb") as f:
        f.seek(a["start"] * 512)
        in_a = f.read(os.path.getsize(system))
        f.seek(b["start"] * 512)
        in_b = f.read(1 << 16)
    with open(system, "rb") as f:
        ok(in_a == f.read(), "slot a holds the system squashfs")
    ok(in_b == b"\0" * len(in_b), "slot b is empty")
    ok(mtype(disk, esp["start"], "::/a/vmlinuz") == b"kernel" * 1000 and
       mtype(disk, esp["start"], "::/a/initrd.img") == b"initrd" * 1000,
       "the ESP holds slot a's kernel and initramfs in /a")
    ok(mtype(disk, esp["start"], "::/a/version") == b"0.2.0\n",
       "the ESP holds slot a's version (from the squashfs) in /a/version")
    with open(CFG, "rb") as f:
        cfg = f.read()
    menus = [mtype(disk, esp["start"], p) for p in ("::/syslinux/syslinux.cfg", "::/EFI/BOOT/syslinux.cfg")]
    ok(menus == [cfg, cfg], "the same boot menu for BIOS (/syslinux) and UEFI (/EFI/BOOT)")
    text = cfg.decode()
    ok("\nDEFAULT a\n" in text and "pullbox.system=pullbox-system-a" in text and
       "pullbox.system=pullbox-system-b" in text and "LINUX /b/vmlinuz" in text and "INITRD /b/initrd.img" in text,
       "the menu has a label per slot (its kernel, initramfs and system) and boots slot a by default")


def copy(src, dst):
    r = subprocess.run([COPY, src, dst], capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def check_copy(tmp):
    if not os.path.exists(COPY):
        ok(False, "pullbox-update-copy is built (%s)" % COPY)
        return
    dest_dir = os.path.join(tmp, "root-only")
    os.mkdir(dest_dir, 0o700)
    src_dir = os.path.join(tmp, "upload")
    os.mkdir(src_dir)
    os.chmod(src_dir, 0o1777)  # as a user-writable upload folder
    data = os.urandom(300000)
    src = os.path.join(src_dir, "bundle.pbu")
    with open(src, "wb") as f:
        f.write(data)
    dst = os.path.join(dest_dir, "bundle.pbu")
    rc, err = copy(src, dst)
    with open(dst, "rb") as f:
        got = f.read()
    ok(rc == 0 and got == data and (os.stat(dst).st_mode & 0o777) == 0o600,
       "pullbox-update-copy copies a regular file whole, 0600 (%d %s)" % (rc, err.strip()))
    rc, err = copy(src, dst)
    ok(rc != 0, "it does not overwrite an existing copy (%d %s)" % (rc, err.strip()))
    os.unlink(dst)
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write("root's")
    link = os.path.join(src_dir, "link.pbu")
    os.symlink(secret, link)
    rc, err = copy(link, dst)
    ok(rc == 1 and "refused" in err and "symbolic link" in err and not os.path.exists(dst),
       "a symbolic link in the upload folder is refused, nothing copied (%s)" % err.strip())
    os.symlink(tmp, os.path.join(src_dir, "dirlink"))
    rc, err = copy(os.path.join(src_dir, "dirlink", "secret"), dst)
    ok(rc == 1 and "refused" in err and not os.path.exists(dst),
       "a folder link made in a folder others write is not followed (%s)" % err.strip())
    fifo = os.path.join(src_dir, "fifo.pbu")
    os.mkfifo(fifo)
    rc, err = copy(fifo, dst)
    ok(rc == 1 and "not a regular file" in err and not os.path.exists(dst),
       "a FIFO is refused without blocking (%s)" % err.strip())
    open_dir = os.path.join(tmp, "open")
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    rc, err = copy(src, os.path.join(open_dir, "bundle.pbu"))
    ok(rc != 0 and not os.path.exists(os.path.join(open_dir, "bundle.pbu")),
       "a destination folder others may write is refused (%s)" % err.strip())


def check_kexec(tmp):
    if not ok(os.path.exists(KEXEC), "pullbox-kexec is built (%s)" % KEXEC):
        return

    def run(*args):
        r = subprocess.run([KEXEC] + list(args), capture_output=True, text=True, timeout=30)
        return r.returncode, r.stderr.strip()
    rc, err = run("load", "only-two", "args")
    ok(rc == 100 and "usage:" in err, "pullbox-kexec: a wrong call is a usage error, 100 (%d %s)" % (rc, err))
    garbage = os.path.join(tmp, "vmlinuz")
    with open(garbage, "wb") as f:
        f.write(b"not a kernel\n" * 1000)
    missing = os.path.join(tmp, "no-initrd.img")
    rc, err = run("load", garbage, missing, "panic=10")
    ok(rc == 111 and missing in err, "pullbox-kexec: a missing initramfs is 111, named (%d %s)" % (rc, err))
    rc, err = run("load", garbage, garbage, "panic=10 pullbox.system=pullbox-system-b")
    ok(rc == 1 and err.startswith("pullbox-kexec: refused: "),
       "pullbox-kexec: a file that is no kernel is refused with one line, 1 (%d %s)" % (rc, err))


def check_watchdog():
    if not ok(os.path.exists(WATCHDOG), "pullbox-watchdog is built (%s)" % WATCHDOG):
        return

    def run(*args):
        r = subprocess.run([WATCHDOG] + list(args), capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout.strip(), r.stderr.strip()
    for args in ((), ("arm",), ("arm", "0"), ("arm", "65536"), ("arm", "180s"), ("stop", "now")):
        rc, out, err = run(*args)
        ok(rc == 100 and out == "" and ("usage:" in err or "SECONDS must be 1-65535" in err),
           "pullbox-watchdog %s: a usage error, 100 (%d %s)" % (" ".join(args), rc, err))
    if any(n.startswith("watchdog") for n in os.listdir("/dev")):
        note("skipped pullbox-watchdog arm/stop: this host has a watchdog device, which it would arm")
        return
    for args in (("arm", "180"), ("stop",)):
        rc, out, err = run(*args)
        ok(rc == 1 and out == "" and err == "pullbox-watchdog: no watchdog device",
           "pullbox-watchdog %s without a watchdog device: 1, says so (%d %s)" % (" ".join(args), rc, err))


def main():
    tmp = tempfile.mkdtemp(prefix="pb-slots-")
    try:
        check_layout(tmp)
        check_kexec(tmp)
        check_watchdog()
        if os.geteuid() == 0:
            check_copy(tmp)
        else:
            note("skipped pullbox-update-copy: it checks root's folders, run as root")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    done()


main()
