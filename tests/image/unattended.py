"""Boot-test checks of the appliance's life after import (used by boot_test.py):

  U-N1  a fresh disk (qcow2 over the image) with a cloud-init NoCloud seed on a
        CD labelled cidata (user-data: host name, the admin's SSH key;
        network-config v2: a static address): the appliance comes up claimed
        (no setup code, the wizard asks for a login), the key opens the admin's
        console over SSH, the static address serves the ports
  U-N2  the same disk enlarged by 512 MiB while off: the next boot grows the
        data partition and its filesystem (GPT and ext4 read from outside
        after the poweroff); nothing of the first boot is done again
  U-O   the OVF hardware (pc, IDE, e1000) with an OVF environment CD (as
        vSphere attaches it): host name, DHCP, the admin's password hash and
        SSH key, a signature key, the allowed publishers, and an invalid
        static network (reported and skipped as a whole, DHCP kept); the disk
        was enlarged before the first boot: it grows then. Claimed: the
        password logs in to the wizard; a message signed with the given key
        is delivered.

U-N1 and U-O are independent and boot at the same time."""
import json
import os
import re
import subprocess
import tempfile
import threading

from appliance_client import Console

SEED_HOSTNAME = "pb-nocloud"
OVF_HOSTNAME = "pb-ovf.example.com"
OVF_PASSWORD = "unattended-pw-1"
OVF_SIGNATURE_KEY = "5a1e" * 16
GROW_MIB = 512


def ssh_keypair(workdir, name):
    key = os.path.join(workdir, name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name + "@boot-test", "-f", key],
                   check=True)
    return key, open(key + ".pub").read().strip()


def make_iso(workdir, name, label, files):
    d = os.path.join(workdir, name + ".d")
    os.makedirs(d, exist_ok=True)
    for fname, text in files.items():
        with open(os.path.join(d, fname), "w") as f:
            f.write(text)
    iso = os.path.join(workdir, name + ".iso")
    subprocess.run(["genisoimage", "-quiet", "-output", iso, "-volid", label, "-joliet", "-rock", d],
                   check=True)
    return iso


def overlay(workdir, image, name, grow_mib=0):
    disk = os.path.join(workdir, name + ".qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", image, disk], check=True)
    if grow_mib:
        subprocess.run(["qemu-img", "resize", "-q", disk, "+%dM" % grow_mib], check=True)
    return disk


def data_partition(t, disk, workdir):
    """(partition size in MiB, filesystem size in MiB, sfdisk --verify ok, stage 1's
    log of the last boot) read from a raw copy of the qcow2 disk."""
    raw = os.path.join(workdir, os.path.basename(disk) + ".raw")
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, raw], check=True)
    try:
        table = json.loads(subprocess.run(["sfdisk", "-J", raw], capture_output=True, text=True).stdout)
        part = [p for p in table["partitiontable"]["partitions"] if p.get("name") == "pullbox-data"][0]
        stats = subprocess.run(["debugfs", "-R", "stats", "%s?offset=%d" % (raw, part["start"] * 512)],
                               capture_output=True, text=True).stdout
        blocks = int(re.search(r"Block count:\s+(\d+)", stats).group(1))
        bsize = int(re.search(r"Block size:\s+(\d+)", stats).group(1))
        verify = subprocess.run(["sfdisk", "--verify", raw], capture_output=True, text=True)
        bootlog = subprocess.run(["debugfs", "-R", "cat /log/boot.log", "%s?offset=%d" % (raw, part["start"] * 512)],
                                 capture_output=True, text=True).stdout
        return part["size"] * 512 >> 20, blocks * bsize >> 20, "No errors detected" in verify.stdout, bootlog
    finally:
        os.unlink(raw)


def ssh_with_key(port, key):
    """The admin's console, reached with key only; True when its menu shows."""
    p = subprocess.run(["ssh", "-tt", "-i", key, "-p", str(port), "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                        "-o", "PasswordAuthentication=no", "-o", "IdentitiesOnly=yes",
                        "-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR", "admin@127.0.0.1"],
                       input=b"q\r", capture_output=True, timeout=120)
    out = (p.stdout + p.stderr).decode(errors="replace")
    return re.search(r"Choose 1-\d+", out) is not None, out[-600:]


class KeyConsole(Console):
    """The admin's console over SSH, logged in with a key only."""

    def __init__(self, port, key):
        self.dir = tempfile.mkdtemp(prefix="pullbox-ssh-")
        self.proc = subprocess.Popen(
            ["ssh", "-tt", "-i", key, "-p", str(port), "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
             "-o", "PasswordAuthentication=no", "-o", "ConnectTimeout=30", "-o", "LogLevel=ERROR",
             "admin@127.0.0.1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.out = ""


def first_password(t, vm, key, password):
    """Claimed by a key alone: the admin sets the first password in the console
    (item Admin, without a current one), then logs in to the wizard with it."""
    c = KeyConsole(vm.port[22], key)
    try:
        if c.read_until(r"Choose 1-\d+: ", timeout=90) is None:
            return "no menu: " + c.out[-600:]
        m = re.search(r"(\d+)\s+Admin", c.out)
        c.send(m.group(1) if m else "10")
        c.read_until(r"Choose \(1-3", timeout=30)
        c.send("1")
        if c.read_until(r"Current admin password|New password: ", timeout=30) is None or \
                "Current admin password" in c.out:
            return "asked for a current password: " + c.out[-600:]
        c.send(password)
        c.read_until(r"same password again: ", timeout=30)
        c.send(password)
        if c.read_until(r"Press Enter to return", timeout=90) is None:
            return "not applied: " + c.out[-600:]
        c.send("")
        c.read_until(r"Choose 1-\d+: ", timeout=30)
        c.send("q")
    finally:
        c.close()
    r = t.Wizard(vm.port[443]).login(password)
    return True if r[0] in (302, 303) else "the wizard refused the new password: %s" % (r[:2],)


def claimed(t, vm):
    """The wizard leads to its login page, not the claim page; the console
    shows no setup code."""
    r = t.retry(lambda: t.http_get(vm.port[443], "/network", tls=True), timeout=60)
    login = isinstance(r, tuple) and r[0] == 303 and r[1].get("Location", "").endswith("/login")
    return login and "Setup code" not in vm.log(), r


def nocloud_first(t, workdir, image, key_pub):
    iso = make_iso(workdir, "nocloud", "cidata", {
        "meta-data": "instance-id: pb-boot-test\nlocal-hostname: not-this-one\n",
        "user-data": "#cloud-config\nhostname: %s\nmanage_etc_hosts: true\n"
                     "ssh_authorized_keys:\n  - %s\n" % (SEED_HOSTNAME, key_pub),
        "network-config": "version: 2\nethernets:\n  eth0:\n    addresses: [10.0.2.15/24]\n"
                          "    gateway4: 10.0.2.2\n    nameservers:\n      addresses: [10.0.2.3]\n",
    })
    disk = overlay(workdir, image, "nocloud")
    vm = t.VM(disk, workdir, "U-N1", fmt="qcow2")
    vm.extra = ["-drive", "file=%s,format=raw,if=none,id=cd0,media=cdrom,readonly=on" % iso,
                "-device", "ide-cd,drive=cd0,bus=ide.1"]
    return vm, disk


def nocloud_bootlog(t, log):
    t.ok("seed: found: a NoCloud seed" in log
         and "seed: user-data hostname = %s" % SEED_HOSTNAME in log
         and "seed: network-config addresses = 10.0.2.15/24" in log and "seed: claimed by the admin's SSH key" in log,
         "U-N1: stage 1 applied the NoCloud seed (data/log/boot.log)", log[-3000:])
    t.ok("already fills the disk" in log and "grown from" not in log,
         "U-N1: a disk that was not enlarged: the data partition is left as it is", log[-3000:])


def nocloud_checks(t, vm, key):
    log = vm.log()
    t.check_services(vm, publish_allowed=False)
    c, r = claimed(t, vm)
    t.ok(c, "U-N1: the seed's SSH key claimed the appliance: no setup code, the wizard asks for a login", r)
    menu, out = ssh_with_key(vm.port[22], key)
    t.ok(menu, "U-N1: the seed's SSH key opens the admin's console", out)
    t.ok(SEED_HOSTNAME + " login:" in log, "U-N1: the host name is the seed's (the serial login prompt)",
         log[-1500:])
    r = first_password(t, vm, key, "first-pw-" + SEED_HOSTNAME)
    t.ok(r is True, "U-N1: claimed by key alone, the admin sets a first password in the console and "
         "logs in to the wizard with it", r)


def ovf_first(t, workdir, image, key_pub):
    hash_ = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=OVF_PASSWORD, capture_output=True,
                           text=True, check=True).stdout.strip()
    props = [("hostname", OVF_HOSTNAME), ("network.mode", "static"), ("network.address", "10.0.2.15/24"),
             ("network.gateway", "10.0.2.300"), ("network.dns", ""), ("admin.password-hash", hash_),
             ("admin.ssh-key", key_pub), ("site.signature-key", OVF_SIGNATURE_KEY),
             ("site.publishers", "10.0.2.2"), ("site.public-name", "push.example.com")]
    env = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1"\n'
           '     xmlns:oe="http://schemas.dmtf.org/ovf/environment/1"\n'
           '     xmlns:ve="http://www.vmware.com/schema/ovfenv" oe:id="" ve:vCenterId="vm-7">\n'
           '   <PlatformSection><Kind>VMware ESXi</Kind><Version>8.0.2</Version></PlatformSection>\n'
           '   <PropertySection>\n' +
           "".join('      <Property oe:key="%s" oe:value="%s"/>\n' % (k, v.replace("&", "&amp;")
                                                                       .replace('"', "&quot;"))
                   for k, v in props) +
           '   </PropertySection>\n</Environment>\n')
    iso = make_iso(workdir, "ovfenv", "OVF ENV", {"ovf-env.xml": env})
    disk = overlay(workdir, image, "ovf", grow_mib=GROW_MIB)
    vm = t.VM(disk, workdir, "U-O", machine="pc", disk_bus="ide", nic="e1000", fmt="qcow2")
    vm.extra = ["-drive", "file=%s,format=raw,if=none,id=cd0,media=cdrom,readonly=on" % iso,
                "-device", "ide-cd,drive=cd0,bus=ide.1"]
    return vm, disk


def ovf_bootlog(t, log):
    t.ok("seed: found: an OVF environment" in log and "seed: OVF property hostname = %s" % OVF_HOSTNAME in log,
         "U-O: stage 1 applied the OVF environment (data/log/boot.log)", log[-3000:])
    applied = [l for l in log.splitlines() if l.startswith("   seed: OVF property network.")]
    t.ok(re.search(r"WARNING: seed: OVF property network.gateway = 10.0.2.300: Gateway", log)
         and "WARNING: seed: OVF property network.mode = static: " in log
         and "WARNING: seed: OVF property network.address = 10.0.2.15/24: " in log and not applied,
         "U-O: an invalid gateway is reported (console, boot.log) and its whole group skipped", log[-3000:])
    m = re.findall(r".*(?:partition \d+: \d+ -> \d+ MiB|grown from \d+ to \d+ MiB).*", log)
    t.ok(len(m) == 2, "U-O: a disk enlarged before the first boot grows at the first boot (data/log/boot.log)",
         "\n".join(m) or log[-2000:])


def ovf_checks(t, vm, key):
    t.check_services(vm)
    c, r = claimed(t, vm)
    t.ok(c, "U-O: the password hash claimed the appliance: no setup code", r)
    w = t.Wizard(vm.port[443])
    r = w.login(OVF_PASSWORD)
    t.ok(r[0] in (302, 303), "U-O: the password of the OVF hash logs in to the wizard", r[:2])
    r = t.delivered_with(vm, OVF_SIGNATURE_KEY)
    t.ok(r is True, "U-O: pullboxd signs with the OVF's signature key: a message is delivered", r)
    menu, out = ssh_with_key(vm.port[22], key)
    t.ok(menu, "U-O: the OVF's SSH key opens the admin's console", out)


def boot_parallel(t, vms):
    """Starts the VMs together; True for each that reached 'pullbox: ready'."""
    for vm in vms:
        vm.start()
    res = {}

    def wait(vm):
        res[vm.name] = vm.wait_ready()
    threads = [threading.Thread(target=wait, args=(vm,)) for vm in vms]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for vm in vms:
        t.ok(res[vm.name] is not None, "%s boots to 'pullbox: ready' on the serial console" % vm.describe(),
             vm.log()[-3000:])
        if res[vm.name] is not None:
            t.note("%s: ready %.1f s after QEMU started" % (vm.name, res[vm.name]))
    return [res[vm.name] is not None for vm in vms]


def check_unattended(t, workdir, image, vms):
    """t: the boot_test module (its VM, probes and TAP functions)."""
    key, key_pub = ssh_keypair(workdir, "admin-key")
    n1, ndisk = nocloud_first(t, workdir, image, key_pub)
    o, odisk = ovf_first(t, workdir, image, key_pub)
    vms += [n1, o]
    up = boot_parallel(t, [n1, o])
    if up[0]:
        nocloud_checks(t, n1, key)
    if up[1]:
        ovf_checks(t, o, key)
    t.ok(o.powerdown(), "U-O: ACPI power button powers off cleanly")
    t.ok(n1.powerdown(), "U-N1: ACPI power button powers off cleanly")
    before = data_partition(t, ndisk, workdir)
    after_o = data_partition(t, odisk, workdir)
    nocloud_bootlog(t, before[3])
    ovf_bootlog(t, after_o[3])
    t.ok(after_o[0] - before[0] == GROW_MIB and after_o[1] >= after_o[0] - 1 and after_o[2],
         "U-O: the data partition and its ext4 fill the enlarged disk (%s MiB vs %s; GPT verified)"
         % (after_o[:2], before[:2]), (before[:3], after_o[:3]))

    # ---- U-N2: the NoCloud disk enlarged while off, booted again ----
    subprocess.run(["qemu-img", "resize", "-q", ndisk, "+%dM" % GROW_MIB], check=True)
    n2 = t.VM(ndisk, workdir, "U-N2", fmt="qcow2")
    n2.extra = n1.extra
    vms.append(n2)
    if t.boot(n2):
        c, r = claimed(t, n2)
        t.ok(c, "U-N2: still claimed", r)
    t.ok(n2.powerdown(), "U-N2: ACPI power button powers off cleanly")
    after = data_partition(t, ndisk, workdir)
    log = after[3]
    t.ok("First boot" not in log and "seed:" not in log,
         "U-N2: the second boot reads no seed and generates nothing (data/log/boot.log)", log[-2000:])
    m = re.findall(r".*(?:partition \d+: \d+ -> \d+ MiB|grown from \d+ to \d+ MiB).*", log)
    t.ok(len(m) == 2, "U-N2: the boot after the disk was enlarged grows the data partition (data/log/boot.log)",
         "\n".join(m) or log[-2500:])
    t.ok(after[0] - before[0] == GROW_MIB and after[1] >= after[0] - 1 and after[1] > before[1] and after[2],
         "U-N2: the data partition and its ext4 grew by %d MiB (%s -> %s MiB; GPT verified)"
         % (GROW_MIB, before[:2], after[:2]), (before[:3], after[:3]))
