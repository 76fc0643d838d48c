"""Boot-test checks of a 0.1.0 appliance's data on this system (used by boot_test.py):

  M1  a copy of the image whose data partition is replaced by the data of a
      real 0.1.0 appliance (fixtures/data-0.1.0.ext4.xz, made from ddaaf39 by
      fixtures/make-data-0.1.0.sh: claimed, configured, with messages in its
      journal that no subscriber got), shrunk to its minimum: the guest's clock
      starts shortly after the fixture was made (-rtc base), so its messages
      are within their day of life. The first boot grows the filesystem,
      migrates the data to schema 2 and generates nothing; the certificate,
      the SSH host key, the signing key (sha256 signatures, as 0.1.0 was set),
      the admin's password and SSH key and the site settings are 0.1.0's; a
      client resuming by the mid of the last message it got receives every
      undelivered message once, in order, and nothing it had already; after
      the poweroff data/etc/schema says 2 and 0.1.0's settings are kept in
      data/migrate/schema-1
  M2  the same disk again: no migration runs, the schema stays 2
  M4  only with PULLBOX_010_IMAGE (a 0.1.0 raw image, e.g. the one
      fixtures/make-data-0.1.0.sh builds): the migrated data, shrunk, in a copy
      of that image: 0.1.0 boots with it and serves it (certificate, resume by
      mid, the admin's SSH key and password): schema 2 only adds to 0.1.0's
      data, it rewrites none of 0.1.0's settings
  M3  the same disk with its schema set to 3 (what a newer system would leave
      for this one after a rollback; no copy of schema 2 is there): it boots,
      migrates nothing down, and the console's banner says the data is newer
"""
import datetime
import hashlib
import hmac
import json
import os
import re
import subprocess
import time

import unattended

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


def schema(t, disk):
    """The number in data/etc/schema, or None (debugfs echoes its command first)."""
    m = re.search(r"^(\d+)$", t.read_data_file(disk, "/etc/schema"), re.M)
    return m.group(1) if m else None


def admin_key(workdir):
    """The fixture's admin SSH key as ssh takes it (git keeps no 0600)."""
    path = os.path.join(workdir, "m-admin-key")
    with open(os.path.join(FIXTURES, "data-0.1.0.admin-key")) as src, open(path, "w") as dst:
        dst.write(src.read())
    os.chmod(path, 0o600)
    return path


def sign256(key, cid):
    return "%s.%s" % (cid, hmac.new(key.encode(), cid.encode(), hashlib.sha256).hexdigest())


def data_partition(t, disk):
    """(offset, size) in bytes of the data partition of disk."""
    parts = json.loads(subprocess.run(["sfdisk", "-J", disk], capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]["partitions"]
    return t.data_offset(disk), [p["size"] for p in parts if p.get("name") == "pullbox-data"][0] * 512


def put_data(t, disk, stream):
    """Writes the filesystem read from stream at the start of disk's data partition, the
    rest of the partition zero; (bytes written, partition size)."""
    off, size = data_partition(t, disk)
    subprocess.run(["fallocate", "--punch-hole", "-o", str(off), "-l", str(size), disk], check=True)
    n = 0
    with open(disk, "r+b") as d:
        d.seek(off)
        while True:
            chunk = stream.read(1 << 20)
            if not chunk:
                break
            d.write(chunk)
            n += len(chunk)
    return n, size


def fixture_disk(t, workdir, image):
    """A copy of image whose data partition holds the fixture's filesystem; the
    fixture's facts."""
    with open(os.path.join(FIXTURES, "data-0.1.0.json")) as f:
        facts = json.load(f)
    disk = os.path.join(workdir, "m.raw")
    subprocess.run(["cp", "--sparse=always", image, disk], check=True)
    xz = subprocess.Popen(["xz", "-dc", os.path.join(FIXTURES, "data-0.1.0.ext4.xz")], stdout=subprocess.PIPE)
    n, size = put_data(t, disk, xz.stdout)
    xz.wait()
    t.ok(xz.returncode == 0 and n == facts["filesystem-bytes"] <= size,
         "M1: the 0.1.0 data partition (%d MiB filesystem) is in the new disk's %d MiB data partition"
         % (n >> 20, size >> 20))
    return disk, facts


def resume(t, vm, facts):
    """Subscribes by the mid of the last message 0.1.0 delivered; the texts received."""
    q = "/bitrix/subws/?CHANNEL_ID=%s&mid=%s" % (sign256(facts["signature-key"], facts["channel"]),
                                                 facts["resume-mid"])
    ws = t.WS(vm.port[8893], q)
    try:
        got, seen = ws.recv_until(facts["undelivered"][-1], timeout=30)
        more = ws.recv_until("no-such-text", timeout=4)[1]  # anything sent twice comes now
    finally:
        ws.close()
    words = re.findall(r"m\d-[0-9a-f]{6}", b"".join(seen + more).decode(errors="replace"))
    return words


def check_m1(t, vm, facts, key):
    log = vm.log()
    t.ok("Setup code:" not in log, "M1: the console shows no setup code (0.1.0's was claimed)", log[-1500:])
    fp = t.retry(lambda: t.cert_fingerprint(vm.port[8894]), timeout=30)
    fp443 = t.retry(lambda: t.cert_fingerprint(vm.port[443]), timeout=30)
    t.ok(fp == fp443 == facts["tls-sha256"], "M1: 8894 and 443 serve 0.1.0's certificate", (fp, fp443, facts["tls-sha256"]))
    hk = t.ssh_hostkey(vm.port[22])
    t.ok(hk == facts["ssh-host-key-ed25519"], "M1: SSH answers with 0.1.0's host key", (hk, facts["ssh-host-key-ed25519"]))
    words = resume(t, vm, facts)
    t.ok(words == facts["undelivered"],
         "M1: a client resuming by mid gets the %d messages 0.1.0 had not delivered, once each, in order, "
         "and none it had" % len(facts["undelivered"]), words)
    cid = "%032x" % int(time.time() * 1000)  # a Bitrix channel id: 32 hex digits
    ws = t.WS(vm.port[8893], "/bitrix/subws/?CHANNEL_ID=" + sign256(facts["signature-key"], cid))
    try:
        time.sleep(0.5)
        t.http_post(vm.port[8895], "/bitrix/pub/?CHANNEL_ID=" + cid, json.dumps({"text": "after"}))
        got = ws.recv_until("after", timeout=15)[0]
    finally:
        ws.close()
    t.ok(got, "M1: 0.1.0's signing key and sha256 signatures still subscribe, and 8895 takes 0.1.0's publisher")
    w = t.Wizard(vm.port[443])
    r = t.retry(lambda: w.login(facts["admin-password"]), timeout=60)
    t.ok(isinstance(r, tuple) and r[0] in (302, 303), "M1: the admin's 0.1.0 password logs in to the wizard", r)
    page = w.get("/site")[2] if isinstance(r, tuple) else ""
    t.ok(facts["public-name"] in page and facts["publishers"] in page,
         "M1: the Bitrix site page shows 0.1.0's public name and publishers", page[-800:])
    menu, out = unattended.ssh_with_key(vm.port[22], admin_key(vm.workdir))
    t.ok(menu, "M1: the SSH key the admin added on 0.1.0 opens the console", out)


def check_old_system(t, workdir, disk, old_image, facts, base, vms):
    """M4: the migrated data (shrunk) on a copy of the 0.1.0 image."""
    off, size = data_partition(t, disk)
    ext4 = os.path.join(workdir, "m4.ext4")
    subprocess.run(["dd", "if=" + disk, "of=" + ext4, "bs=1M", "iflag=skip_bytes,count_bytes",
                    "skip=%d" % off, "count=%d" % size, "status=none"], check=True)
    r = subprocess.run(["e2fsck", "-fy", ext4], capture_output=True, text=True)
    subprocess.run(["resize2fs", "-M", ext4], check=True, capture_output=True)
    old = os.path.join(workdir, "m4.raw")
    subprocess.run(["cp", "--sparse=always", old_image, old], check=True)
    with open(ext4, "rb") as f:
        n, size = put_data(t, old, f)
    os.unlink(ext4)
    t.ok(r.returncode == 0 and n <= size, "M4: the migrated data (fsck clean) is in a copy of the 0.1.0 image")
    vm = t.VM(old, workdir, "M4")
    vm.extra = ["-rtc", "base=" + base]
    vms.append(vm)
    if t.boot(vm):
        fp = t.retry(lambda: t.cert_fingerprint(vm.port[8894]), timeout=30)
        words = resume(t, vm, facts)
        menu = unattended.ssh_with_key(vm.port[22], admin_key(vm.workdir))[0]
        r = t.retry(lambda: t.Wizard(vm.port[443]).login(facts["admin-password"]), timeout=60)
        t.ok(fp == facts["tls-sha256"] and words == facts["undelivered"] and menu
             and isinstance(r, tuple) and r[0] in (302, 303),
             "M4: 0.1.0 serves the migrated data: its certificate, resume by mid, the admin's key and password",
             (fp, words, menu, r))
    t.ok(vm.powerdown(), "M4: ACPI power button powers off cleanly")
    os.unlink(old)


def check_migration(t, workdir, image, vms):
    t0 = time.monotonic()
    disk, facts = fixture_disk(t, workdir, image)
    t.ok(schema(t, disk) is None and "T" in t.read_data_file(disk, "/etc/firstboot-done"),
         "M1: the data holds no schema file (0.1.0's), and a first boot done")
    base = datetime.datetime.utcfromtimestamp(facts["created"] + 300).strftime("%Y-%m-%dT%H:%M:%S")
    vm = t.VM(disk, workdir, "M1")
    vm.extra = ["-rtc", "base=" + base]
    vms.append(vm)
    if t.boot(vm):
        check_m1(t, vm, facts, facts["signature-key"])
    t.ok(vm.powerdown(), "M1: ACPI power button powers off cleanly")
    t.ok(schema(t, disk) == "2", "M1: data/etc/schema says 2 after the boot")
    t.ok("signature-algorithm = sha256" in t.read_data_file(disk, "/migrate/schema-1/etc/settings.conf"),
         "M1: 0.1.0's settings are kept in data/migrate/schema-1")
    bootlog = t.read_data_file(disk, "/log/boot.log")
    t.ok("kept the settings of schema 1 in /data/migrate/schema-1" in bootlog
         and "data partition migrated to schema 2" in bootlog and "grown from" in bootlog,
         "M1: stage 1 grew the filesystem, kept 0.1.0's settings and migrated the data (data/log/boot.log)",
         bootlog[-2500:])
    t.ok("ERROR" not in bootlog and "WARNING" not in bootlog and "First boot" not in bootlog,
         "M1: stage 1 generated nothing, with no error or warning", bootlog[-2500:])
    vm = t.VM(disk, workdir, "M2")
    vm.extra = ["-rtc", "base=" + base]
    vms.append(vm)
    t.boot(vm)
    t.ok(vm.powerdown(), "M2: ACPI power button powers off cleanly")
    bootlog = t.read_data_file(disk, "/log/boot.log")
    t.ok("Initialization complete" in bootlog and "schema" not in bootlog and "First boot" not in bootlog,
         "M2: the second boot migrates nothing and generates nothing (data/log/boot.log)", bootlog[-2000:])
    t.ok(schema(t, disk) == "2", "M2: the schema is still 2")
    if os.environ.get("PULLBOX_010_IMAGE"):
        check_old_system(t, workdir, disk, os.environ["PULLBOX_010_IMAGE"], facts, base, vms)
    t.ok(t.write_data_file(disk, "/etc/schema", "3\n", workdir), "M3: data/etc/schema set to 3 (debugfs)")
    vm = t.VM(disk, workdir, "M3")
    vm.extra = ["-rtc", "base=" + base]
    vms.append(vm)
    if t.boot(vm):
        log = vm.log()
        t.ok("DATA:          the data partition is at schema 3, newer than this system's (2)" in log,
             "M3: the console's banner says the data is newer than the system", log[-1500:])
        t.ok(resume(t, vm, facts) == facts["undelivered"], "M3: ... and the appliance serves with it")
    t.ok(vm.powerdown(), "M3: ACPI power button powers off cleanly")
    t.ok(schema(t, disk) == "3", "M3: nothing was migrated down: the schema is still 3")
    os.unlink(disk)
    t.note("the migration boots (M*): %.0f s" % (time.monotonic() - t0))
