#!/usr/bin/env python3
"""Boot test of the Pullbox appliance image: TAP on stdout.

Usage: tests/image/boot_test.py [--matrix] IMAGE.raw

Boots copies of the raw disk in QEMU (TCG unless KVM=1) with every guest port
forwarded to a 127.0.0.1-only host port, waits for the "pullbox: ready" line
that the banner service prints on the serial console once pullboxd answers,
and checks the appliance from outside only: there is no test hook, no
default password and no root shell in the image.

  boot A1  first boot (q35, virtio disk, virtio-net, BIOS): queue ports, TLS,
           wizard, SSH, first-boot console banner; the setup wizard over HTTPS:
           claim with the console's setup code, login, the Bitrix site page,
           a key rotation that pullboxd follows (old key refused after the
           grace period); in the admin's shell (console): redis-server 7.0 is
           there, its service is down (no redis.conf) and nothing listens on
           6379; the admin fills /data: publishes are still journaled, settings
           still save (the reserve is root's and pullbox's); the certificates
           page shows the served certificate; clean ACPI poweroff
           (--only-full-data runs that check on a boot of its own)
  boot A2  the same disk again on the OVF hardware (pc, PIIX IDE, e1000), now
           the cluster hub (cluster.role = hub in settings.conf): same keys;
           publish on 8895 reaches ws:// on 8893 and wss:// on 8894 (through
           the hub's Redis, over TLS); the hub's redis-server runs as user
           redis, speaks TLS only and wants its password (PONG with it, no
           answer to plain text), its key unreadable to the admin; pullboxd
           killed in the guest is restarted
  boot B   a fresh copy (q35, AHCI, e1000e, UEFI): different keys; the
           firewall refuses a publisher that is not on the allowed list until
           the wizard allows it; the admin logs in over SSH (root cannot), gets
           the maintenance menu, rotates the key there, and pullboxd follows;
           the admin logs in on the serial console; a factory reset from the
           menu wipes the data partition and the appliance starts over
  boot P   a fresh copy holding what an older release let its admin and pullbox
           user leave behind (the admin's .ssh a link to network.conf, the TLS
           folder pullbox's with cert.pem a link to the shadow file): after the
           first boot each is root's again and nothing was chowned or chmod'ed
           through a link; /run/issue (the setup code) is root's 0600
           (--only-privileges runs this boot alone)
  OVA      the OVA next to IMAGE.raw: member order, manifest, OVF; then its
           vmdk boots on the OVF hardware (pc, IDE, e1000)
  U-*      unattended first boots and a growing data disk (unattended.py)
  M1-M4    a real 0.1.0 appliance's data migrated at boot, booted again, with a
           newer schema, and by 0.1.0 itself (M4, with PULLBOX_010_IMAGE) (migrate010.py;
           --only-migration runs these boots alone)
  boot F1  a fresh copy with ip6_tables kept from loading (kernel command line): IPv6
           is turned off, IPv4 keeps its rules, the admin keeps 22 and 443
  boot F2  the same with ip_tables too: nothing may listen (the admin networks are
           narrowed), every port stays closed, the console says why
  U-A*     updates on the A/B system slots: a refused bundle, an update kept
           after its trial boot (started by kexec), a broken one rolled back by
           itself, trial kernels that panic (UEFI, BIOS) or that the running
           kernel refuses: the previous slot comes back by itself
           (update.py; beside the other boots, in a thread)
  --matrix adds boots X1 on PVSCSI + vmxnet3 (BIOS) and X2 on virtio (UEFI)
  --unattended runs only the U-* boots
  --only-slots runs only U-A*, --only-upload only UP-W and UP-C;
           --only-slots=U-A2,U-A7 only those U-A* cases (in their order, one disk)
  --update runs only the update boots: U-A* and then UP-W, UP-C (update_boot.py: an
           update from the wizard and from the console over scp, with
           pullbox-<version>.pbu from `make update` next to IMAGE.raw)
  --firewall runs only F1 and F2

What the test writes into the data partition before a boot is what the setup
wizard writes (settings.conf: the allowed publishers); it reads the data
partition (debugfs, after a clean poweroff) to learn the generated signature
key. Killing pullboxd: the test presses SysRq+F on the VM's keyboard (QEMU
monitor "sendkey"), which makes the guest kernel's OOM killer SIGKILL the
process with the highest oom_score_adj: pullboxd (its run script sets 500).
/server-stat/ then shows a new pid and a reset uptime.

Environment: BOOT_TIMEOUT (s per boot, default 300), KVM=1, KEEP=1 (keep the
work directory), QEMU (default qemu-system-x86_64).
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from appliance_client import Console, Wizard, applied
import migrate010
import unattended
import update
import update_boot

BOOT_TIMEOUT = int(os.environ.get("BOOT_TIMEOUT", "300"))
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
GUEST_PORTS = (8893, 8894, 8895, 443, 80, 22)

_n = 0
_failed = 0


_tap_lock = threading.Lock()  # the update boots (update.py) run in a thread of their own


def ok(cond, name, diag=None):
    global _n, _failed
    with _tap_lock:
        _n += 1
        if not cond:
            _failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", _n, name), flush=True)
        if not cond and diag:
            for line in str(diag).splitlines()[-25:]:
                print("#   " + line, flush=True)
    return cond


def note(msg):
    print("# " + msg, flush=True)


_ports_given = set()  # the kernel may hand a closed port out again: one VM got 60225 for 8893 and 8895
_ports_lock = threading.Lock()


def free_port():
    """A 127.0.0.1 port free now and not given out before by this process (QEMU binds them later)."""
    with _ports_lock:
        for _ in range(100):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
            s.close()
            if p not in _ports_given:
                break
        _ports_given.add(p)
        return p


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---- disk: the data partition, read and written from outside ----

def data_offset(disk):
    out = subprocess.run(["sfdisk", "-J", disk], check=True, capture_output=True, text=True).stdout
    for p in json.loads(out)["partitiontable"]["partitions"]:
        if p.get("name") == "pullbox-data":
            return p["start"] * 512
    raise RuntimeError("no pullbox-data partition in " + disk)


def debugfs(disk, cmds, write=False):
    spec = "%s?offset=%d" % (disk, data_offset(disk))
    args = ["debugfs"] + (["-w"] if write else []) + ["-f", "-", spec]
    r = subprocess.run(args, input=cmds, capture_output=True, text=True)
    return r.stdout


def write_data_file(disk, path, content, workdir):
    local = os.path.join(workdir, "inject.tmp")
    with open(local, "w") as f:
        f.write(content)
    d = os.path.dirname(path)
    debugfs(disk, "mkdir %s\nrm %s\nwrite %s %s\n" % (d, path, local, path), write=True)
    return content in debugfs(disk, "cat %s\n" % path)


def read_data_file(disk, path):
    return debugfs(disk, "cat %s\n" % path)


def signature_key(disk):
    m = re.search(r"^signature-key = ([0-9a-f]+)$", read_data_file(disk, "/pullbox/pullbox.conf"), re.M)
    return m.group(1) if m else None


# ---- the VM ----

class VM:
    def __init__(self, disk, workdir, name, machine="q35", disk_bus="virtio", nic="virtio-net-pci",
                 uefi=False, fmt="raw", serial_input=False, watchdog=False):
        self.disk, self.workdir, self.name, self.fmt = disk, workdir, name, fmt
        # watchdog: an i6300esb whose expiry resets the VM (Proxmox's "intel-i6300esb, reset")
        self.watchdog = watchdog
        # serial_input: the serial console is also a TCP socket on 127.0.0.1 to type into
        self.serial_port = free_port() if serial_input else None
        self.machine, self.disk_bus, self.nic, self.uefi = machine, disk_bus, nic, uefi
        self.port = {g: free_port() for g in GUEST_PORTS}
        self.serial = os.path.join(workdir, name + ".serial.log")
        self.monitor = os.path.join(workdir, name + ".monitor")
        self.proc = None
        self.t0 = None
        self.extra = []  # more QEMU arguments (a seed CD)

    def describe(self):
        return "%s: %s, %s disk, %s, %s%s" % (self.name, self.machine, self.disk_bus, self.nic,
                                             "UEFI" if self.uefi else "BIOS",
                                             ", i6300esb watchdog" if self.watchdog else "")

    def start(self):
        accel = "kvm" if os.environ.get("KVM") == "1" else "tcg"
        fwd = ",".join("hostfwd=tcp:127.0.0.1:%d-:%d" % (h, g) for g, h in self.port.items())
        args = [QEMU, "-machine", "%s,accel=%s" % (self.machine, accel), "-m", "1024", "-smp", "2",
                "-display", "none", "-vga", "std"] + (
                    ["-chardev", "socket,id=ser0,host=127.0.0.1,port=%d,server=on,wait=off,logfile=%s"
                     % (self.serial_port, self.serial), "-serial", "chardev:ser0"]
                    if self.serial_port else ["-serial", "file:" + self.serial]) + [
                "-monitor", "unix:%s,server,nowait" % self.monitor,
                "-drive", "file=%s,format=%s,if=none,id=d0,cache=writeback" % (self.disk, self.fmt),
                "-netdev", "user,id=n0,restrict=on," + fwd, "-device", "%s,netdev=n0" % self.nic]
        if self.disk_bus == "virtio":
            args += ["-device", "virtio-blk-pci,drive=d0"]
        elif self.disk_bus == "ahci":
            args += ["-device", "ide-hd,drive=d0,bus=ide.0"]
        elif self.disk_bus == "ide":
            args += ["-device", "ide-hd,drive=d0,bus=ide.0,unit=0"]
        elif self.disk_bus == "pvscsi":
            args += ["-device", "pvscsi,id=s0", "-device", "scsi-hd,drive=d0,bus=s0.0"]
        if self.uefi:
            vars_copy = os.path.join(self.workdir, self.name + ".vars.fd")
            shutil.copy(OVMF_VARS, vars_copy)
            args += ["-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
                     "-drive", "if=pflash,format=raw,file=" + vars_copy]
        if self.watchdog:
            args += ["-device", "i6300esb", "-action", "watchdog=reset"]
        args += self.extra
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.workdir, self.name + ".qemu.log"), "w"))

    def log(self):
        try:
            with open(self.serial, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout=BOOT_TIMEOUT):
        end = self.t0 + timeout
        while time.monotonic() < end:
            if "pullbox: ready" in self.log():
                return time.monotonic() - self.t0
            if self.proc.poll() is not None:
                return None
            time.sleep(0.5)
        return None

    def hmp(self, cmd):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(self.monitor)
        time.sleep(0.3)
        s.recv(65536)
        s.sendall((cmd + "\n").encode())
        time.sleep(0.5)
        try:
            out = s.recv(65536)
        except socket.timeout:
            out = b""
        s.close()
        return out.decode(errors="replace")

    def powerdown(self, timeout=90):
        """ACPI power button (what a hypervisor's 'shut down' does); True if the guest powered off."""
        if self.proc.poll() is not None:
            return False
        self.hmp("system_powerdown")
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            self.kill()
            return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---- probes ----

def http_get(port, path, tls=False, timeout=10):
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls_ctx())
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


def http_post(port, path, body, headers=None, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", path, body, headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def retry(fn, timeout=30, delay=1):
    """fn() until it returns a true value without raising; the last value or exception."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - the probe reports it
            last = e
        if time.monotonic() > end:
            return last
        time.sleep(delay)


def cert_fingerprint(port):
    der = None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with tls_ctx().wrap_socket(s) as t:
            der = t.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest()


def ssh_banner(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(10)
        return s.recv(256).decode(errors="replace").strip()


def ssh_hostkey(port):
    if not shutil.which("ssh-keyscan"):
        return None
    r = subprocess.run(["ssh-keyscan", "-T", "10", "-p", str(port), "-t", "ed25519", "127.0.0.1"],
                       capture_output=True, text=True)
    keys = [l.split(None, 1)[1] for l in r.stdout.splitlines() if l and not l.startswith("#")]
    return keys[0] if keys else None


class WS:
    """A minimal RFC 6455 client: handshake, read text/binary frames."""

    def __init__(self, port, path, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            s = tls_ctx().wrap_socket(s)
        self.s = s
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                   % (path, port, key)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = s.recv(4096)
            if not d:
                raise ConnectionError("closed during the handshake")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = head.split(b"\r\n", 1)[0].decode()
        if " 101 " not in self.status + " ":
            raise ConnectionError("handshake: " + self.status)

    def _need(self, n, end):
        while len(self.buf) < n:
            self.s.settimeout(max(0.1, end - time.monotonic()))
            d = self.s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d

    def recv_until(self, needle, timeout=15):
        end = time.monotonic() + timeout
        seen = []
        while time.monotonic() < end:
            try:
                self._need(2, end)
                op, ln = self.buf[0] & 0x0F, self.buf[1] & 0x7F
                hl = 2
                if ln == 126:
                    self._need(4, end)
                    ln, hl = int.from_bytes(self.buf[2:4], "big"), 4
                elif ln == 127:
                    self._need(10, end)
                    ln, hl = int.from_bytes(self.buf[2:10], "big"), 10
                self._need(hl + ln, end)
                payload, self.buf = self.buf[hl:hl + ln], self.buf[hl + ln:]
            except (socket.timeout, ssl.SSLError, TimeoutError):
                break
            if op == 0x9:  # ping: answer with a masked pong
                mask = os.urandom(4)
                self.s.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask +
                               bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
                continue
            if op == 0x8:
                break
            seen.append(payload)
            if needle.encode() in payload:
                return True, seen
        return False, seen

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def signed(key, cid):
    return "%s.%s" % (cid, hmac.new(key.encode(), cid.encode(), hashlib.sha1).hexdigest())


def server_stat(port):
    st, _, body = http_get(port, "/server-stat/")
    if st != 200:
        return None
    stat = json.loads(body)
    # Push server format: a list with one object per worker process
    return stat[0] if isinstance(stat, list) and stat else stat


# ---- the scenarios ----

def boot(vm):
    vm.start()
    t = vm.wait_ready()
    ok(t is not None, "%s boots to 'pullbox: ready' on the serial console" % vm.describe(), vm.log())
    if t is not None:
        note("%s: ready %.1f s after QEMU started (%s)" % (vm.name, t, "KVM" if os.environ.get("KVM") == "1" else "TCG"))
    return t is not None


def check_services(vm, publish_allowed=True):
    """Probes shared by every boot; returns (tls fingerprint, ssh host key)."""
    p = vm.port
    if publish_allowed:
        r = retry(lambda: http_get(p[8895], "/health")[0] == 200, timeout=20)
        ok(r is True, "%s: /health on the forwarded 8895 answers 200" % vm.name, r)
    r = retry(lambda: http_get(p[8893], "/health")[0] > 0, timeout=20)
    ok(r is True, "%s: 8893 answers HTTP" % vm.name, r)
    fp = retry(lambda: cert_fingerprint(p[8894]), timeout=20)
    ok(isinstance(fp, str), "%s: 8894 completes a TLS handshake" % vm.name, fp)
    r = retry(lambda: http_get(p[443], "/", tls=True), timeout=30)
    ok(isinstance(r, tuple) and r[0] == 303 and r[1].get("Location", "").endswith(("/claim", "/login"))
       and "frame-ancestors 'none'" in r[1].get("Content-Security-Policy", ""),
       "%s: 443 serves the setup wizard over TLS (/ leads to the claim or the login page)" % vm.name, r)
    r = retry(lambda: http_get(p[80], "/x?y=1"), timeout=20)
    ok(isinstance(r, tuple) and r[0] in (301, 302, 308) and r[1].get("Location", "").startswith("https://"),
       "%s: 80 redirects to https" % vm.name, r)
    b = retry(lambda: ssh_banner(p[22]), timeout=20)
    ok(isinstance(b, str) and b.startswith("SSH-2.0-dropbear"), "%s: 22 answers with an SSH banner" % vm.name, b)
    hk = ssh_hostkey(p[22])
    if fp is not None and not isinstance(fp, str):
        fp = None
    return fp, hk


def check_delivery(vm, key):
    p = vm.port
    cid = secrets.token_hex(16)
    subs = []
    for port, tls, label in ((p[8893], False, "ws:// on 8893"), (p[8894], True, "wss:// on 8894")):
        try:
            subs.append((WS(port, "/bitrix/subws/?CHANNEL_ID=" + signed(key, cid), tls=tls), label))
        except Exception as e:  # noqa: BLE001
            ok(False, "%s: WebSocket subscribe on %s" % (vm.name, label), e)
    time.sleep(1)
    text = "pullbox-image-test-%s" % secrets.token_hex(4)
    st, body = http_post(p[8895], "/bitrix/pub/?CHANNEL_ID=" + cid, json.dumps({"text": text}),
                         {"Message-Expiry": "60"})
    note("%s: publish answered %d" % (vm.name, st))
    for ws, label in subs:
        got, seen = ws.recv_until(text, timeout=15)
        ok(got, "%s: a message published on 8895 reaches a subscriber on %s" % (vm.name, label), seen)
        ws.close()


def check_restart(vm):
    p = vm.port
    before = retry(lambda: server_stat(p[8895]), timeout=10)
    if not ok(isinstance(before, dict) and "pid" in before, "%s: /server-stat/ shows pullboxd's pid" % vm.name, before):
        return
    t0 = time.monotonic()
    vm.hmp("sendkey alt-sysrq-f")

    def restarted():
        st = server_stat(p[8895])
        return st if st and st.get("pid") != before["pid"] else None
    after = retry(restarted, timeout=30, delay=0.3)
    dt = time.monotonic() - t0
    ok(isinstance(after, dict) and after.get("uptime", 99) < 30,
       "%s: pullboxd killed in the guest (SysRq+F, OOM killer) runs again under a new pid" % vm.name,
       "before %s after %s\n%s" % (before, after, vm.log()[-3000:]))
    if isinstance(after, dict):
        note("%s: pid %s -> %s, answering again within %.1f s of the key press (incl. 0.8 s of monitor I/O)" % (vm.name, before["pid"], after["pid"], dt))
    end = time.monotonic() + 10
    while time.monotonic() < end and not re.search(r"Killed process \d+ \(pullboxd\)", vm.log()):
        time.sleep(0.5)
    ok(re.search(r"Killed process \d+ \(pullboxd\)", vm.log()) is not None,
       "%s: the guest kernel logged that it killed pullboxd" % vm.name, vm.log()[-2000:])


ADMIN_PASSWORD = "boot-test-" + secrets.token_hex(6)


def setup_code(vm):
    m = re.search(r"Setup code: +([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})", vm.log())
    return m.group(1) if m else None


def delivered_with(vm, key):
    """True if a channel signed with key subscribes on 8893 and gets a message published
    on 8895: what 'pullboxd accepts this key' means to a browser."""
    p = vm.port
    cid = secrets.token_hex(16)
    try:
        ws = WS(p[8893], "/bitrix/subws/?CHANNEL_ID=" + signed(key, cid))
    except (ConnectionError, OSError) as e:
        return "refused at the handshake: %s" % e
    try:
        time.sleep(0.5)
        text = "key-probe-%s" % secrets.token_hex(4)
        http_post(p[8895], "/bitrix/pub/?CHANNEL_ID=" + cid, json.dumps({"text": text}))
        got, seen = ws.recv_until(text, timeout=10)
        return True if got else "not delivered: %r" % seen[-2:]
    finally:
        ws.close()


def check_claim(vm):
    """The wizard as a new admin meets it: only the claim page, the setup code from the
    console, a new password. Returns the logged-in Wizard, or None."""
    w = Wizard(vm.port[443])
    r = retry(lambda: w.get("/network"), timeout=30)
    ok(isinstance(r, tuple) and r[0] == 303 and r[1].get("Location", "").endswith("/claim"),
       "%s: before the claim every wizard page leads to the claim page" % vm.name, r)
    r = w.claim("AAAA-BBBB-CCCC", ADMIN_PASSWORD)
    ok(r[0] == 403 and "not the setup code" in r[2], "%s: a wrong setup code is refused" % vm.name, r[:2])
    code = setup_code(vm)
    r = w.claim(code or "", ADMIN_PASSWORD)
    ok(r[0] in (302, 303), "%s: the setup code from the console claims the appliance" % vm.name, r)
    r = w.get("/network")
    if not ok(r[0] == 200 and "Host name" in r[2], "%s: after the claim the network page opens" % vm.name, r[:2]):
        return None
    other = Wizard(vm.port[443])
    r = other.login("not-" + ADMIN_PASSWORD)
    ok(r[0] in (401, 403) and "/network" not in r[1].get("Location", ""),
       "%s: the login page refuses a wrong password" % vm.name, r[:2])
    r = other.login(ADMIN_PASSWORD)
    ok(r[0] in (302, 303), "%s: the login page takes the admin password" % vm.name, r[:2])
    return w


def check_site_settings(vm, w, publishers):
    r = w.post_form("/site", {"site.public-name": "127.0.0.1", "site.publishers": publishers,
                              "site.version": "4", "site.signature-algorithm": "sha1"})
    ok(r[0] == 200 and applied(r), "%s: the Bitrix site page applies the publishers %s" % (vm.name, publishers),
       r[2][-1500:])
    r = w.post_form("/site", {"site.public-name": "push;reboot", "site.publishers": publishers,
                              "site.version": "4", "site.signature-algorithm": "sha1"})
    ok(r[0] == 400 and "Public name" in r[2], "%s: a hostile public name is refused by name" % vm.name, r[:2])


def check_wizard_key_rotation(vm, w):
    """Rotation from the wizard: the new key works at once, the old one for the grace period."""
    old = w.current_key()
    r = w.post_form("/keys", {"key.grace-period": "15"})
    new = w.current_key()
    ok(r[0] == 200 and applied(r) and new and old and new != old,
       "%s: the keys page rotates the signing key" % vm.name, (r[0], old, new))
    if not (new and old):
        return new
    ok(delivered_with(vm, new) is True, "%s: pullboxd accepts the new key at once" % vm.name)
    ok(delivered_with(vm, old) is True, "%s: the old key still works during the grace period" % vm.name)
    gone = retry(lambda: delivered_with(vm, old) is not True, timeout=60, delay=3)
    ok(gone is True, "%s: after the grace period the old key stops working" % vm.name, gone)
    ok(delivered_with(vm, new) is True, "%s: ... and the new key still does" % vm.name)
    return new


def check_console_over_ssh(vm, w):
    """Issue 6 over SSH: the admin logs in with the password set at the claim, meets the
    menu (not a shell), rotates the key; pullboxd takes the new key and, after the grace
    period, refuses the old one. Root may not log in."""
    # a short grace period, but longer than the SSH session takes under TCG (the keys page
    # saves it, and rotates once)
    w.post_form("/keys", {"key.grace-period": "60"})
    root = Console(vm.port[22], "root", ADMIN_PASSWORD, timeout=30)
    m = root.read_until(r"Choose 1-\d+|\$ |# ", timeout=30)
    root.close()
    ok(m is None, "%s: root cannot log in over SSH" % vm.name, root.out[-500:])
    c = Console(vm.port[22], "admin", ADMIN_PASSWORD, timeout=60)
    try:
        m = c.read_until(r"Choose 1-\d+: ", timeout=90)
        if not ok(m is not None and "Signing key" in c.out,
                  "%s: the admin logs in over SSH and gets the numbered menu" % vm.name, c.out[-1500:]):
            return
        c.send("3")
        m = c.read_until(r"Signing key: +([0-9a-f]{32,128})", timeout=30)
        old = m.group(1) if m else None
        c.read_until(r"Choose \(1-2, q to go back\): ", timeout=30)
        c.send("1")
        c.read_until(r"Rotate the key now.*\[y/N\] ", timeout=30)
        c.send("y")
        m = c.read_until(r"Signing key: +([0-9a-f]{32,128})", timeout=90)
        new = m.group(1) if m else None
        ok(old and new and old != new, "%s: menu 3 rotates the signing key over SSH" % vm.name,
           (old, new, c.out[-1500:]))
        c.read_until(r"Press Enter", timeout=30)
        c.send("")
        c.read_until(r"Choose 1-\d+: ", timeout=30)
        c.send("q")
        c.read_until(r"Bye", timeout=15)
    finally:
        c.close()
    if not (old and new):
        return
    ok(delivered_with(vm, new) is True, "%s: pullboxd accepts the key rotated over SSH" % vm.name)
    ok(delivered_with(vm, old) is True, "%s: the old key still works during the grace period" % vm.name)
    gone = retry(lambda: delivered_with(vm, old) is not True, timeout=150, delay=3)
    ok(gone is True, "%s: after the grace period the old signature stops working" % vm.name, gone)


def check_serial_login(vm):
    """The VM's serial console: getty, the admin's password, and the menu comes up on its
    own (the admin's login shell is the console)."""
    try:
        s = socket.create_connection(("127.0.0.1", vm.serial_port), timeout=10)
    except OSError as e:
        ok(False, "%s: the serial console takes input" % vm.name, e)
        return
    buf = b""

    def until(pattern, timeout):
        nonlocal buf
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, buf)
            if m:
                buf = buf[m.end():]
                return m
            s.settimeout(max(0.1, end - time.monotonic()))
            try:
                d = s.recv(4096)
            except socket.timeout:
                continue
            if not d:
                break
            buf += d
        return None

    try:
        s.sendall(b"\r")
        got = until(rb"login: ", 60)
        s.sendall(b"admin\r")
        got = got and until(rb"[Pp]assword: ", 30)
        s.sendall(ADMIN_PASSWORD.encode() + b"\r")
        got = got and until(rb"Choose 1-\d+: ", 120)
        ok(got is not None, "%s: the admin logs in on the serial console and the menu starts" % vm.name,
           buf[-800:])
        s.sendall(b"q\r")
        ok(until(rb"login: ", 60) is not None, "%s: leaving the menu logs out (getty again)" % vm.name,
           buf[-800:])
    finally:
        s.close()


def check_factory_reset(vm):
    """Console menu 11 over SSH: after the typed RESET the appliance reboots, wipes its data
    partition and comes back as new: unclaimed, with a new setup code."""
    codes = re.findall(r"Setup code: +([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})", vm.log())
    ready = vm.log().count("pullbox: ready")
    c = Console(vm.port[22], "admin", ADMIN_PASSWORD, timeout=60)
    try:
        if not ok(c.read_until(r"Choose 1-\d+: ", timeout=90) is not None,
                  "%s: the admin logs in over SSH again" % vm.name, c.out[-800:]):
            return
        c.send("11")
        c.read_until(r"Type RESET", timeout=30)
        c.send("RESET")
        c.read_until(r"reboot|Reboot|restart", timeout=30)
    finally:
        c.close()
    end = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < end and vm.log().count("pullbox: ready") <= ready:
        time.sleep(1)
    log = vm.log()
    ok(log.count("pullbox: ready") > ready and "reboot: Restarting system" in log,
       "%s: after RESET the appliance reboots" % vm.name, log[-2500:])
    new = re.findall(r"Setup code: +([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})", log)
    ok(new and codes and new[-1] != codes[-1], "%s: ... and shows a new setup code" % vm.name,
       (codes[-1:], new[-1:]))
    r = retry(lambda: http_get(vm.port[443], "/network", tls=True), timeout=60)
    ok(isinstance(r, tuple) and r[0] == 303 and r[1].get("Location", "").endswith("/claim"),
       "%s: ... and waits for a new claim" % vm.name, r)


# ---- the cluster hub's Redis (service "redis": runs only where /data/etc/redis.conf is) ----

def admin_shell(vm, commands):
    """Runs each command in the admin's shell (the console's Shell item, which asks for the
    password again) over SSH. Returns (outputs, screen): outputs is a list with one string (or
    None) per command, or None if the shell never came up. The admin is not root: this sees
    what any local user sees. sv status needs root (it writes to supervise/ok), so a service's
    state is read from the world-readable supervise/stat and supervise/status runsv keeps."""
    c = Console(vm.port[22], "admin", ADMIN_PASSWORD, timeout=60)
    try:
        if c.read_until(r"Choose 1-\d+: ", timeout=90) is None:
            return None, c.out
        m = re.search(r"(\d+)  Shell\n", c.out)
        c.send(m.group(1) if m else "13")
        if c.read_until(r"Current admin password: ", timeout=30) is None:
            return None, c.out
        c.send(ADMIN_PASSWORD)
        if c.read_until(r"Type exit to come back to the menu\.[\s\S]*?\$ ", timeout=60) is None:
            return None, c.out
        outs = []
        for i, cmd in enumerate(commands):
            n = 7000 + i
            start = len(c.out)
            # the markers are computed by the shell, so the echoed command line never matches
            c.send('echo "@@<$((%d+1))"; %s; echo "@@>$((%d+1))"' % (n - 1, cmd, n - 1))
            c.read_until(r"@@>%d\n" % n, timeout=90)
            m = re.search(r"@@<%d\n([\s\S]*?)@@>%d\n" % (n, n), c.out[start:])
            outs.append(m.group(1) if m else None)
        c.send("exit")
        c.read_until(r"Press Enter", timeout=30)
        c.send("")
        c.read_until(r"Choose 1-\d+: ", timeout=30)
        c.send("q")
        c.read_until(r"Bye", timeout=15)
        return outs, c.out
    finally:
        c.close()


def check_redis_down(vm):
    """A standalone appliance (no /data/etc/redis.conf): redis-server and redis-cli are in
    the image, and the redis service has taken itself down (runsv wants it down, so it is
    not restarted in a loop); nothing listens on 6379."""
    outs, screen = admin_shell(vm, [
        "redis-server --version",
        "redis-cli --version",
        "cat /run/sv/redis/supervise/stat; dd if=/run/sv/redis/supervise/status bs=1 skip=17 "
        "count=1 2>/dev/null; echo",
        "sleep 2; cat /run/sv/redis/supervise/stat",
        "netstat -ltn",
        "pidof redis-server || echo no-redis-server",
        "grep 'open files' /proc/$(pidof pullboxd)/limits; grep MemTotal /proc/meminfo"])
    if not ok(outs is not None, "%s: the admin gets the console's shell over SSH" % vm.name, screen[-1500:]):
        return
    ver, cli, stat, stat2, listen, pid, plim = (o or "" for o in outs)
    m = re.search(r"Max open files\s+(\d+)\s+(\d+)", plim)
    mt = re.search(r"MemTotal:\s+(\d+) kB", plim)
    # one descriptor per 7.5 KiB of memory (136 a MiB), 65536 to 1048576: the run script's sizing
    want = min(max(int(mt.group(1)) // 1024 * 136, 65536), 1048576) if mt else None
    ok(m is not None and int(m.group(1)) == int(m.group(2)) == want,
       "%s: pullboxd may open %s files, 136 a MiB of memory (init's hard limit is 4096: its run "
       "script raises it)" % (vm.name, want), plim)
    ok(re.search(r"Redis server v=7\.0\.\d+ .*malloc=libc", ver) is not None
       and re.match(r"redis-cli 7\.0\.\d+", cli) is not None,
       "%s: /usr/bin/redis-server --version says 7.0 (musl malloc), redis-cli too" % vm.name, (ver, cli))
    ok(stat.split() == ["down", "d"] and stat2.split() == ["down"],
       "%s: without /data/etc/redis.conf the redis service is down and runsv wants it down" % vm.name,
       (stat, stat2))
    ok(":8893 " in listen and ":6379 " not in listen and "no-redis-server" in pid,
       "%s: no redis-server runs and nothing listens on 6379" % vm.name, (listen, pid))


def check_wizard_state(vm):
    """The wizard keeps its state on a tmpfs of its own, capped in bytes and files, and a
    visitor who has not logged in costs no file anywhere: 100 cookie-less visits to /login
    leave the data partition's inode count where it was (give or take the few files an SSH
    login or a log rotation may make; before, each visit made a session file there). SSH
    takes passwords by default (no -s)."""
    cmds = ["grep ' /run/pullbox-wizard ' /proc/mounts",
            "tr '\\0' ' ' </proc/$(cat /run/sv/dropbear/supervise/pid)/cmdline; echo",
            "df -i /data | tail -1"]
    outs, screen = admin_shell(vm, cmds)
    if not ok(outs is not None, "%s: the admin gets the console's shell over SSH" % vm.name, screen[-1500:]):
        return
    mnt, dropbear, inodes0 = (o or "" for o in outs)
    ok(re.search(r"^\S+ /run/pullbox-wizard tmpfs \S*\bnoexec\b", mnt) is not None and "nr_inodes=64" in mnt
       and "size=16384k" in mnt and "mode=700" in mnt,
       "%s: the wizard's state is a tmpfs of 16 MiB and 64 files, mode 0700" % vm.name, mnt)
    ok(dropbear.startswith("dropbear -F") and " -s " not in dropbear,
       "%s: dropbear takes passwords until the admin chooses keys only" % vm.name, dropbear)
    codes = set()
    for _ in range(100):
        codes.add(http_get(vm.port[443], "/login", tls=True)[0])
    outs, screen = admin_shell(vm, cmds[2:])
    inodes1 = (outs or [""])[0] or ""
    def used(line):
        f = line.split()
        return int(f[2]) if len(f) > 2 and f[2].isdigit() else None
    ok(codes <= {200, 303} and used(inodes0) is not None and used(inodes1) is not None
       and used(inodes1) - used(inodes0) < 10,
       "%s: 100 cookie-less visits to /login use no inode of /data (%s)" % (vm.name, sorted(codes)),
       (inodes0, inodes1))


PULLBOX_UID, WWW_GID = 100, 101  # rootfs/etc/passwd


def check_full_data(vm, w):
    """The admin fills /data from its shell (its home: what a local user can fill): the
    filesystem's reserve is root's, user pullbox's and group www's (10-data.sh mounts with
    resuid and resgid), so
    publishes are still journaled and a setting still saves; then the file goes. Also: the
    wizard's certificate page shows the certificate 443 serves (from the copy root publishes:
    the CGI cannot enter the TLS folder), and no /data/config-ui/state is left."""
    st, _, page = w.get("/certificates")
    m = re.search(r'class="fingerprint">([0-9A-F:]{95})<', page)
    served = cert_fingerprint(vm.port[443])
    ok(st == 200 and m is not None and m.group(1).replace(":", "").lower() == served,
       "%s: the certificates page shows the served certificate's SHA-256 fingerprint" % vm.name,
       (st, m.group(1) if m else page[-1500:], served))
    outs, screen = admin_shell(vm, [
        "grep ' /data ' /proc/mounts",
        "ls -d /data/config-ui/state 2>&1; cat /data/pullbox/tls/key.pem 2>&1 | head -1",
        "dd if=/dev/zero of=$HOME/fill bs=1M 2>&1 | grep -c 'No space left'; df -k /data | tail -1"])
    if not ok(outs is not None, "%s: the admin gets the console's shell over SSH" % vm.name, screen[-1500:]):
        return
    mnt, left, fill = (o or "" for o in outs)
    ok(re.search(r"\bresuid=%d\b" % PULLBOX_UID, mnt) is not None
       and re.search(r"\bresgid=%d\b" % WWW_GID, mnt) is not None,
       "%s: /data is mounted with its reserve for user pullbox and group www" % vm.name, mnt)
    ok("No such file" in left and "Permission denied" in left and "PRIVATE" not in left,
       "%s: no /data/config-ui/state; the admin cannot read the TLS key" % vm.name, left)
    f = fill.split()
    ok(fill.startswith("1") and len(f) > 4 and f[4] == "0",
       "%s: the admin's file filled /data (No space left; df shows 0 available)" % vm.name, fill)
    key = w.current_key() or ""
    cid = secrets.token_hex(16)
    codes = [http_post(vm.port[8895], "/bitrix/pub/?CHANNEL_ID=" + cid,
                       json.dumps({"text": "x" * 4000, "n": i}))[0] for i in range(64)]
    ok(codes == [200] * 64, "%s: with /data full for the admin, 64 publishes of 4 KB are journaled "
       "(200)" % vm.name, sorted(set(codes)))
    r = w.post_form("/site", {"site.public-name": "127.0.0.1", "site.publishers": "10.0.2.2 192.0.2.77",
                              "site.version": "4", "site.signature-algorithm": "sha1"})
    ok(r[0] == 200 and applied(r), "%s: with /data full for the admin, a setting still saves" % vm.name,
       r[2][-1500:])
    ok(len(key) >= 32 and delivered_with(vm, key) is True,
       "%s: and pullboxd still delivers" % vm.name)
    outs, screen = admin_shell(vm, ["rm -f $HOME/fill; df -k /data | tail -1"])
    ok(outs is not None, "%s: the admin's file is removed" % vm.name, (outs or [screen[-500:]])[0])


def full_data_boot(workdir, image):
    disk = os.path.join(workdir, "d.raw")
    subprocess.run(["cp", "--sparse=always", image, disk], check=True)
    write_data_file(disk, "/etc/settings.conf", "site.publishers = 10.0.2.2\n", workdir)
    vm = VM(disk, workdir, "D")
    try:
        if boot(vm):
            w = check_claim(vm)
            if w:
                check_full_data(vm, w)
    finally:
        vm.kill()
        os.unlink(disk)


def check_status_graphs(vm, w):
    """The sampler (its own user, a runit service) reads pullboxd's figures every 10 s into its
    ring on /data, and the Status page draws them as SVG: a line or a point, not "No figures"."""
    def drawn():
        st, _, page = w.get("/status")
        hour = page.split('id="graphs-hour"', 1)[-1].split('id="graphs-day"', 1)[0]
        return st == 200 and "<svg" in hour and ('class="line"' in hour or 'class="point"' in hour)
    r = retry(drawn, timeout=60, delay=5)
    ok(r is True, "the Status page draws the sampler's figures of the last hour as SVG", r)


def set_setting(disk, key, value, workdir):
    """Sets key = value in the data partition's settings.conf, as the wizard would."""
    text = read_data_file(disk, "/etc/settings.conf")
    lines = [l for l in text.splitlines()
             if l.strip() and not l.startswith("debugfs") and l.split("=", 1)[0].strip() != key]
    return write_data_file(disk, "/etc/settings.conf", "\n".join(lines + ["%s = %s" % (key, value)]) + "\n",
                           workdir)


def check_redis_hub(vm):
    """The cluster hub (cluster.role = hub): pullbox-apply rendered /data/etc/redis.conf at
    boot with a random password (in secrets.conf, which the admin's group may read) and made
    the hub's CA and Redis certificate, and the redis service runs redis-server from it as user
    redis, in /data/redis (0700), with TLS only on 6379; the hub's own pullboxd uses it over
    TLS."""
    tls = "redis-cli --tls --cacert /data/etc/redis-tls/ca.pem --sni pullbox-hub"
    outs, screen = admin_shell(vm, [
        "i=0; while [ $i -lt 30 ] && ! netstat -ltn | grep -q ':6379 '; do sleep 1; i=$((i+1)); done; "
        "netstat -ltn | grep ':6379 '",
        tls + " ping 2>&1",
        "pw=$(sed -n 's/^redis-password = //p' /data/etc/secrets.conf); "
        "%s --user pullbox -a \"$pw\" --no-auth-warning ping 2>&1; "
        "%s -a \"$pw\" --no-auth-warning ping 2>&1; "
        "for c in 'CONFIG GET dir' 'FLUSHALL' 'REPLICAOF 192.0.2.1 6379' 'ACL LIST' 'KEYS *'; do "
        "%s --user pullbox -a \"$pw\" --no-auth-warning $c 2>&1 | head -1; done" % (tls, tls, tls),
        "pw=$(sed -n 's/^redis-password = //p' /data/etc/secrets.conf); "
        "echo \"plain: $(redis-cli --user pullbox -a \"$pw\" --no-auth-warning ping 2>&1 | head -1)\"; "
        "ls -ln /data/etc/redis-tls | awk 'NF > 3 { print $1, $3, $4, $NF }'; "
        "cat /data/etc/redis-tls/redis.key 2>&1 | head -1",
        "ps | grep '[r]edis-server'",
        "stat -c '%U:%G %a' /data/redis",
        "cat /run/sv/redis/supervise/stat",
        "cat /proc/$(pidof redis-server)/oom_score_adj",
        "grep 'open files' /proc/$(pidof redis-server)/limits; tail -n 40 /var/log/redis/current"])
    if not ok(outs is not None, "%s: the admin gets the console's shell over SSH" % vm.name, screen[-1500:]):
        return
    listen, noauth, pong, plain, ps, datadir, stat, oom, limits = (o or "" for o in outs)
    ok(":6379 " in listen and stat.strip() == "run",
       "%s: on the hub the redis service runs and listens on 6379" % vm.name, (listen, stat))
    answers = pong.strip().splitlines()
    ok("NOAUTH" in noauth and answers[:1] == ["PONG"],
       "%s: redis-cli without the password is refused, as user pullbox with the hub's password gets "
       "PONG" % vm.name, (noauth, pong))
    # the default user's AUTH fails (redis-cli then also prints the NOAUTH of its ping); the last
    # five lines answer CONFIG, FLUSHALL (both also renamed away), REPLICAOF, ACL and KEYS
    refused = answers[-5:]
    ok(len(answers) >= 7 and "WRONGPASS" in pong and
       all("NOPERM" in a or "unknown command" in a for a in refused) and
       all("NOPERM" in a for a in refused[2:]),
       "%s: the default user is off, and pullbox's user may not run CONFIG, FLUSHALL, REPLICAOF, ACL "
       "or KEYS" % vm.name, answers)
    pl = plain.strip().splitlines()
    ok(len(pl) >= 6 and pl[0].startswith("plain: ") and "PONG" not in pl[0] and "NOAUTH" not in pl[0],
       "%s: no plain-text Redis: redis-cli without --tls gets no answer on 6379" % vm.name, pl[:1])
    ok("-rw-r----- 0 103 redis.key" in plain and "-rw------- 0 0 ca.key" in plain and
       "-rw-r--r-- 0 0 ca.pem" in plain and "-rw-r--r-- 0 0 redis.pem" in plain,
       "%s: /data/etc/redis-tls: the Redis key root:redis 0640, the CA's key root 0600, the "
       "certificates 0644" % vm.name, pl[1:5])
    ok("Permission denied" in plain and "PRIVATE KEY" not in plain,
       "%s: the admin cannot read the hub's Redis key" % vm.name, pl[5:6])
    ok(re.search(r"^\s*\d+\s+redis\s+.*redis-server", ps, re.M) is not None,
       "%s: redis-server runs as user redis" % vm.name, ps)
    ok(datadir.strip() == "redis:redis 700" and oom.strip() == "200",
       "%s: its data directory /data/redis is redis's, mode 0700; oom_score_adj 200 (pullboxd's 500 "
       "goes first)" % vm.name, (datadir, oom))
    m = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits)
    ok(m is not None and int(m.group(1)) >= 10032 and "maxclients has been reduced" not in limits,
       "%s: redis-server may open the 10032 files its 10000 clients need" % vm.name, limits)


def killed_not_stopped(disk):
    """pullboxd's own log (svlogd, data partition): a start that follows a start with no
    orderly stop in between is a process that was killed, then restarted by runsv."""
    log = read_data_file(disk, "/log/pullboxd/current")
    events = re.findall(r"pullboxd: info: (pullboxd \S+ ready|stopped)", log)
    return any(a.endswith("ready") and b.endswith("ready") for a, b in zip(events, events[1:])), log


def check_refused(vm):
    p = vm.port

    def refused():
        try:
            http_get(p[8895], "/health", timeout=5)
            return "answered"
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            return "refused: %s" % e.__class__.__name__
    r = refused()
    ok(r.startswith("refused"), "%s: 8895 refuses a publisher that is not on the allowed list" % vm.name, r)


# ---- the firewall when netfilter fails: injected from outside, on the kernel command line ----

def add_kernel_args(disk, args, workdir):
    """Appends args to every APPEND line (each system slot) of both boot menus (BIOS and UEFI)
    on the ESP of a copy of the disk, as someone at the boot prompt could; True if both took it."""
    out = subprocess.run(["sfdisk", "-J", disk], check=True, capture_output=True, text=True).stdout
    start = [p["start"] for p in json.loads(out)["partitiontable"]["partitions"] if p.get("name") == "ESP"][0]
    img = "%s@@%d" % (disk, start * 512)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    done = 0
    for cfg in ("::/syslinux/syslinux.cfg", "::/EFI/BOOT/syslinux.cfg"):
        text = subprocess.run(["mtype", "-i", img, cfg], capture_output=True, text=True, env=env).stdout
        new = re.sub(r"^(\s*APPEND .*)$", r"\1 " + args, text, flags=re.M)
        local = os.path.join(workdir, "syslinux.cfg")
        with open(local, "w") as f:
            f.write(new)
        r = subprocess.run(["mcopy", "-o", "-i", img, local, cfg], capture_output=True, text=True, env=env)
        done += r.returncode == 0 and args in subprocess.run(["mtype", "-i", img, cfg], capture_output=True,
                                                             text=True, env=env).stdout
    return done == 2


def answers(port, timeout=8, tls=False):
    """Does anything in the guest answer on port (a TLS handshake with tls)? slirp accepts
    every connection on the host side; a guest port that is closed (or filtered) gives a
    reset or silence, never bytes."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            if tls:
                with tls_ctx().wrap_socket(s):
                    return True
            s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
            return len(s.recv(64)) > 0
    except (OSError, ssl.SSLError):
        return False


def firewall_vm(workdir, image, name, settings, kernel_args):
    disk = os.path.join(workdir, name + ".raw")
    subprocess.run(["cp", "--sparse=always", image, disk], check=True)
    write_data_file(disk, "/etc/settings.conf", settings, workdir)
    ok(add_kernel_args(disk, kernel_args, workdir),
       "%s: '%s' added to the kernel command line of the disk's boot menus (mtools)" % (name, kernel_args))
    return VM(disk, workdir, name), disk


def check_ssh_rate(vm):
    """New SSH connections from one address (slirp's 10.0.2.2): firewall.ssh-rate, 10 a
    minute with a burst of 10, then resets. The probes above used a few already."""
    got = [answers(vm.port[22], timeout=5) for _ in range(12)]
    ok(got[0] and 0 < got.count(False) and got[-2:] == [False, False] and got.count(True) <= 10,
       "%s: 12 SSH connections at once from one address: at most 10 get dropbear's banner, "
       "the rest are refused (%s)" % (vm.name, "".join("o" if g else "x" for g in got)))


def check_firewall_ipv6_fails(workdir, image):
    """IPv6 netfilter missing (ip6_tables may not load): IPv6 is turned off, IPv4 keeps
    its rules, so the admin keeps 22 and 443 and the queue serves; the console says why."""
    vm, disk = firewall_vm(workdir, image, "F1", "site.publishers = 10.0.2.2\nfirewall.admin = 10.0.2.0/24\n",
                           "module_blacklist=ip6_tables")
    try:
        if boot(vm):
            log = vm.log()
            ok("IPv6: no rule set loads" in log and "IPv6 is turned off" in log,
               "F1: the console says the IPv6 rules did not load and IPv6 is turned off", log[-2500:])
            ok(retry(lambda: answers(vm.port[22]), timeout=30) is True and
               retry(lambda: answers(vm.port[443], tls=True), timeout=30) is True,
               "F1: the admin (10.0.2.2, in the admin networks) still reaches 22 and 443")
            ok(retry(lambda: http_get(vm.port[8893], "/health")[0] > 0, timeout=20) is True and
               retry(lambda: http_get(vm.port[8895], "/health")[0] == 200, timeout=20) is True,
               "F1: the IPv4 rules are in force: 8893 answers, 8895 answers the allowed publisher")
            check_ssh_rate(vm)
        ok(vm.powerdown(), "F1: ACPI power button powers off")
    finally:
        vm.kill()
    bootlog = read_data_file(disk, "/log/boot.log")
    ok("IPv6 rules: " in bootlog and "IPv6: no rule set loads" in bootlog,
       "F1: data/log/boot.log keeps ip6tables-restore's own error and the outcome", bootlog[-1500:])
    os.unlink(disk)


def check_firewall_all_fails(workdir, image):
    """No netfilter at all (ip_tables and ip6_tables may not load): no rule set loads, so
    nothing may listen but what the admin networks allow (here 192.0.2.0/24, which does not
    hold the test's 10.0.2.2): every port stays closed, and the console says why."""
    vm, disk = firewall_vm(workdir, image, "F2", "site.publishers = 10.0.2.2\nfirewall.admin = 192.0.2.0/24\n",
                           "module_blacklist=ip_tables,ip6_tables")
    try:
        vm.start()
        end = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < end and "pullbox: " not in vm.log() and vm.proc.poll() is None:
            time.sleep(0.5)
        log = vm.log()
        ok("pullbox: closed, no firewall" in log and "pullbox: ready" not in log,
           "F2: the console's banner says the appliance is closed for want of a firewall", log[-2500:])
        ok("IPv4: no rule set loads" in log and "FIREWALL:" in log,
           "F2: the console says which rule set did not load", log[-2500:])
        time.sleep(10)
        open_ports = [g for g in (8893, 8894, 8895, 22, 443, 80)
                      if answers(vm.port[g], timeout=5, tls=g in (8894, 443))]
        ok(open_ports == [], "F2: no port answers (queue, publish, SSH, wizard): %s" % open_ports)
        ok(vm.powerdown(), "F2: ACPI power button powers off")
    finally:
        vm.kill()
    log = read_data_file(disk, "/log/pullboxd/current")
    ok("waiting for the firewall" in log, "F2: pullboxd's log says it waits for the firewall", log[-800:])
    os.unlink(disk)
# ---- privileges: what an older appliance let the admin and pullbox leave behind ----

def inode(disk, path):
    """(type, mode, uid, gid) of a path in the data partition, from debugfs; None if missing."""
    out = debugfs(disk, "stat %s\n" % path)
    t = re.search(r"Type: (\w+)\s+Mode:\s+(\d+)", out)
    u = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", out)
    return (t.group(1), int(t.group(2), 8), int(u.group(1)), int(u.group(2))) if t and u else None


def plant_old_privileges(disk, workdir):
    """The data partition as an older release left it after its admin and its pullbox user
    (uid 1000 and 100) abused it: the admin's .ssh replaced by a link to network.conf (the
    old first boot chowned it to the admin through the link), the TLS folder pullbox's with
    cert.pem a link to the shadow file (the old first boot chmod'ed it 0644 through the
    link), next to a real key."""
    key = os.path.join(workdir, "old-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", os.path.join(workdir, "old-cert.pem"), "-subj", "/CN=pullbox",
                    "-days", "30"], check=True, capture_output=True)
    shadow = os.path.join(workdir, "old-shadow")
    with open(shadow, "w") as f:
        f.write("root:*:19000:0:99999:7:::\nadmin:*:19000:0:99999:7:::\n")
    conf = os.path.join(workdir, "old-network.conf")
    with open(conf, "w") as f:
        f.write("MODE=dhcp\n")
    debugfs(disk, "\n".join([
        "mkdir /etc", "write %s /etc/shadow" % shadow, "sif /etc/shadow mode 0100600",
        "write %s /etc/network.conf" % conf, "sif /etc/network.conf mode 0100644",
        "mkdir /home", "mkdir /home/admin", "sif /home/admin uid 1000", "sif /home/admin gid 1000",
        "symlink /home/admin/.ssh /data/etc/network.conf",
        "mkdir /pullbox", "mkdir /pullbox/tls", "sif /pullbox/tls uid 100", "sif /pullbox/tls gid 100",
        "sif /pullbox/tls mode 040750", "write %s /pullbox/tls/key.pem" % key,
        "sif /pullbox/tls/key.pem uid 100", "sif /pullbox/tls/key.pem gid 100",
        "symlink /pullbox/tls/cert.pem /data/etc/shadow", ""]), write=True)
    return inode(disk, "/home/admin/.ssh") is not None and (inode(disk, "/pullbox/tls") or ())[2:] == (100, 100)


def check_privileges(vm, disk):
    """Boot P: the first boot takes back what the older release gave away (by descriptor,
    never through the links); the setup code in /run/issue is for getty (root) alone."""
    w = check_claim(vm) if boot(vm) else None
    code = setup_code(vm)
    if w:
        outs, screen = admin_shell(vm, ["stat -c '%a %U' /run/issue", "cat /etc/issue 2>&1",
                                        "cat /proc/sys/fs/protected_hardlinks"])
        if ok(outs is not None, "P: the admin gets the console's shell over SSH", screen[-1500:]):
            st, issue, hard = (o or "" for o in outs)
            ok(st.split() == ["600", "root"] and code and code not in issue,
               "P: /run/issue (with the setup code) is root's 0600: the admin cannot read it", (st, issue[-300:]))
            ok(hard.strip() == "1", "P: the kernel refuses hard links to files the linker does not own", hard)
    ok(vm.powerdown(), "P: ACPI power button powers off cleanly")
    got = {p: inode(disk, p) for p in ("/etc/shadow", "/etc/network.conf", "/home/admin/.ssh", "/pullbox/tls",
                                       "/pullbox/tls/cert.pem", "/pullbox/tls/key.pem", "/home/admin")}
    ok(got["/etc/shadow"] == ("regular", 0o600, 0, 0), "P: shadow is still root's 0600", got)
    ok(got["/etc/network.conf"] and got["/etc/network.conf"][1:3] == (0o644, 0),
       "P: network.conf is root's 0644 (the link at .ssh did not hand it to the admin)", got)
    ok(got["/home/admin/.ssh"] == ("directory", 0o750, 0, 1000), "P: .ssh is a real folder root:admin 0750", got)
    ok(got["/home/admin"] and got["/home/admin"][2] == 1000, "P: the admin's home stays the admin's", got)
    ok(got["/pullbox/tls"] == ("directory", 0o750, 0, 100), "P: the TLS folder is root:pullbox 0750", got)
    ok(got["/pullbox/tls/cert.pem"] == ("regular", 0o640, 0, 100) and
       got["/pullbox/tls/key.pem"] == ("regular", 0o640, 0, 100),
       "P: cert.pem (a new one, not the link) and key.pem are root:pullbox 0640", got)
    bootlog = read_data_file(disk, "/log/boot.log")
    ok("ERROR" not in bootlog, "P: stage 1 logged no error", bootlog[-1500:])


def privileges_boot(workdir, image):
    disk = os.path.join(workdir, "p.raw")
    subprocess.run(["cp", "--sparse=always", image, disk], check=True)
    write_data_file(disk, "/etc/settings.conf", "site.publishers = 10.0.2.2\n", workdir)
    ok(plant_old_privileges(disk, workdir), "P: the older release's state is in the data partition (debugfs)")
    vm = VM(disk, workdir, "P")
    try:
        check_privileges(vm, disk)
    finally:
        vm.kill()
        os.unlink(disk)


def check_ova(ova, workdir):
    """The OVA as importers read it: ustar, descriptor first then manifest, the
    manifest's SHA256 lines match, the OVF is well-formed XML, and virt-v2v
    parses it and checks the manifest too. Returns the vmdk path."""
    import tarfile
    with tarfile.open(ova) as t:
        members = t.getmembers()
        names = [m.name for m in members]
        ok(len(names) == 3 and names[0].endswith(".ovf") and names[1].endswith(".mf")
           and names[2].endswith(".vmdk") and all(m.uid == 0 and m.gid == 0 for m in members),
           "OVA: ustar with the OVF first, then the manifest, then the disk", names)
        t.extractall(workdir)
    ovf, mf, vmdk = (os.path.join(workdir, n) for n in names)
    bad = []
    for line in open(mf):
        m = re.match(r"SHA256\((.+)\)= ([0-9a-f]{64})$", line.strip())
        if not m:
            bad.append(line)
            continue
        with open(os.path.join(workdir, m.group(1)), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != m.group(2):
                bad.append(line)
    ok(not bad and len(open(mf).readlines()) == 2, "OVA: every SHA256 line of the manifest matches", bad)
    if shutil.which("xmllint"):
        r = subprocess.run(["xmllint", "--noout", ovf], capture_output=True, text=True)
        ok(r.returncode == 0, "OVA: the OVF descriptor is well-formed XML", r.stderr)
    text = open(ovf).read()
    ok('ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"' in text
       and "<rasd:ResourceSubType>PIIX4</rasd:ResourceSubType>" in text
       and "<rasd:ResourceSubType>E1000</rasd:ResourceSubType>" in text,
       "OVA: the OVF describes a streamOptimized disk on IDE (PIIX4) and an E1000 NIC")
    r = subprocess.run(["qemu-img", "info", "--output=json", vmdk], capture_output=True, text=True)
    info = json.loads(r.stdout) if r.returncode == 0 else {}
    ok(info.get("format") == "vmdk" and info.get("format-specific", {}).get("data", {}).get("create-type")
       == "streamOptimized", "OVA: the disk is a streamOptimized vmdk", r.stdout + r.stderr)
    if shutil.which("virt-v2v"):
        r = subprocess.run(["virt-v2v", "-i", "ova", ova, "--print-source"], capture_output=True, text=True)
        ok(r.returncode == 0, "OVA: virt-v2v parses the OVF and checks the manifest", r.stdout + r.stderr)
    else:
        ok(False, "OVA: virt-v2v parses the OVF (virt-v2v is not installed: scripts/setup-deps test installs it)")
    return vmdk


def ova_boot(workdir, ova):
    vmdk = check_ova(ova, os.path.join(workdir, "ova"))
    disk = os.path.join(workdir, "ova.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "vmdk", "-b", vmdk, disk], check=True)
    vm = VM(disk, workdir, "OVA", machine="pc", disk_bus="ide", nic="e1000", fmt="qcow2")
    try:
        if boot(vm):
            check_services(vm, publish_allowed=False)
        ok(vm.powerdown(), "OVA: ACPI power button powers off cleanly")
    finally:
        vm.kill()


def matrix_boot(workdir, image, name, **hw):
    disk = os.path.join(workdir, name + ".raw")
    subprocess.run(["cp", "--sparse=always", image, disk], check=True)
    write_data_file(disk, "/etc/settings.conf", "site.publishers = 10.0.2.2\n", workdir)
    vm = VM(disk, workdir, name, **hw)
    try:
        if boot(vm):
            check_services(vm)
        ok(vm.powerdown(), "%s: ACPI power button powers off" % vm.name)
    finally:
        vm.kill()
        os.unlink(disk)


def firewall_main(image):
    """--firewall: only the boots with a firewall that cannot load (F1, F2)."""
    workdir = tempfile.mkdtemp(prefix="pullbox-image-test-")
    try:
        check_firewall_ipv6_fails(workdir, image)
        check_firewall_all_fails(workdir, image)
    finally:
        if os.environ.get("KEEP") == "1" or _failed:
            note("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print("1..%d" % _n)
    return 1 if _failed else 0


def update_boots(bt, workdir, image, vms):
    """U-A* (the installer, a trial kept, a trial rolled back), then UP-W and UP-C (the wizard's
    and the console's Update), one after the other: two trial boots at once would each take
    longer than a trial may on a busy TCG host."""
    update.check_update(bt, workdir, image, vms)
    update_boot.check_update(bt, workdir, image, vms)


class OnlyUnattended(Exception):
    """--unattended, --only-migration or --update: those boots ran, the others are skipped."""


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--firewall" in sys.argv and len(args) == 1:
        return firewall_main(os.path.abspath(args[0]))
    matrix = "--matrix" in sys.argv
    if len(args) != 1 or not os.path.isfile(args[0]):
        sys.stderr.write(__doc__)
        sys.exit(100)
    image = os.path.abspath(args[0])
    for tool in (QEMU, "debugfs", "sfdisk"):
        if not shutil.which(tool):
            print("1..0 # SKIP %s is not installed" % tool)
            return 0
    workdir = tempfile.mkdtemp(prefix="pullbox-image-test-")
    note("image %s, work directory %s" % (image, workdir))
    t_start = time.monotonic()
    vms = []
    try:
        if "--unattended" in sys.argv:
            unattended.check_unattended(sys.modules[__name__], workdir, image, vms)
            raise OnlyUnattended
        if "--only-migration" in sys.argv:  # M1 and M2 alone
            migrate010.check_migration(sys.modules[__name__], workdir, image, vms)
            raise OnlyUnattended
        only = [a for a in sys.argv if a == "--only-slots" or a.startswith("--only-slots=")]
        if only:
            cases = set(only[0].split("=", 1)[1].split(",")) if "=" in only[0] else None
            update.check_update(sys.modules[__name__], workdir, image, vms, cases)
            raise OnlyUnattended
        if "--only-upload" in sys.argv:
            update_boot.check_update(sys.modules[__name__], workdir, image, vms)
            raise OnlyUnattended
        if "--update" in sys.argv:
            update_boots(sys.modules[__name__], workdir, image, vms)
            raise OnlyUnattended
        # the update boots wait minutes for trial boots: beside the others
        update_thread = threading.Thread(target=update_boots,
                                         args=(sys.modules[__name__], workdir, image, vms))
        update_thread.start()
        if "--only-privileges" in sys.argv:  # boot P alone
            privileges_boot(workdir, image)
            print("1..%d" % _n)
            return 1 if _failed else 0
        if "--only-full-data" in sys.argv:  # check_full_data on a boot of its own
            full_data_boot(workdir, image)
            print("1..%d" % _n)
            return 1 if _failed else 0

        # ---- A1: first boot ----
        disk_a = os.path.join(workdir, "a.raw")
        subprocess.run(["cp", "--sparse=always", image, disk_a], check=True)
        ok(write_data_file(disk_a, "/etc/settings.conf", "site.publishers = 10.0.2.2\n", workdir),
           "the allowed publishers can be set in the data partition from outside (debugfs)")
        vm = VM(disk_a, workdir, "A1")
        vms.append(vm)
        fp1 = hk1 = None
        if boot(vm):
            log = vm.log()
            ok(re.search(r"Setup code: +[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", log) is not None
               and "Setup wizard:  https://" in log,
               "A1: the console shows the address, the wizard URL and the setup code", log[-2000:])
            fp1, hk1 = check_services(vm)
            w = check_claim(vm)
            if w:
                check_site_settings(vm, w, "10.0.2.2")
                check_wizard_key_rotation(vm, w)
                check_redis_down(vm)
                check_wizard_state(vm)
                check_status_graphs(vm, w)
                check_full_data(vm, w)
        ok(vm.powerdown(), "A1: ACPI power button powers off cleanly", vm.log()[-1500:])
        rlog = read_data_file(disk_a, "/log/redis/current")
        ok("this appliance is not the cluster hub" in rlog and "Ready to accept" not in rlog,
           "A1: the redis service's log (data/log/redis) says why it is down", rlog[-1500:])
        bootlog = read_data_file(disk_a, "/log/boot.log")
        ok("Initialization complete" in bootlog and "ERROR" not in bootlog and "WARNING" not in bootlog
           and "IPv4 and IPv6 rules" in bootlog,
           "A1: stage 1 (data/boot.log) ran every core service without an error or warning", bootlog)
        key1 = signature_key(disk_a)
        ok(key1 is not None and len(key1) >= 32, "A1: first boot wrote a signature key to the data partition")

        # ---- A2: second boot of the same disk, on the OVF hardware; now the cluster hub ----
        ok(set_setting(disk_a, "cluster.role", "hub", workdir),
           "A2: cluster.role = hub set in the data partition's settings.conf (debugfs)")
        vm = VM(disk_a, workdir, "A2", machine="pc", disk_bus="ide", nic="e1000")
        vms.append(vm)
        if boot(vm):
            ok("First boot" not in vm.log(), "A2: the second boot generates nothing")
            fp2, hk2 = check_services(vm)
            ok(fp1 is not None and fp1 == fp2, "A2: the TLS certificate survived the reboot", (fp1, fp2))
            ok(hk1 is not None and hk1 == hk2, "A2: the SSH host key survived the reboot", (hk1, hk2))
            if key1:
                check_delivery(vm, key1)
            check_redis_hub(vm)
            check_restart(vm)
        ok(vm.powerdown(), "A2: ACPI power button powers off cleanly")
        rlog = read_data_file(disk_a, "/log/redis/current")
        ok("Ready to accept connections" in rlog and "Redis is now ready to exit" in rlog,
           "A2: the hub's redis-server logged its start and a clean stop at poweroff (data/log/redis)",
           rlog[-1500:])
        k, log = killed_not_stopped(disk_a)
        ok(k, "A2: pullboxd's log on the data partition shows the kill and the restart", log)
        # (a connection refused while redis-server starts is fine; a certificate refused is not)
        ok("Redis 127.0.0.1:6379 (TLS)" in log and "redis: subscribe connection ready" in log and
           "Redis's certificate" not in log and "presents no certificate" not in log,
           "A2: the hub's pullboxd logged in to its Redis over TLS (its log on the data partition)",
           log[-1500:])
        ok(signature_key(disk_a) == key1 and key1 is not None, "A2: the signature key survived the reboot")

        # ---- B: a fresh copy of the same image; 8895 allowed for someone else only ----
        disk_b = os.path.join(workdir, "b.raw")
        subprocess.run(["cp", "--sparse=always", image, disk_b], check=True)
        write_data_file(disk_b, "/etc/settings.conf", "site.publishers = 192.0.2.55\n", workdir)
        vm = VM(disk_b, workdir, "B", machine="q35", disk_bus="ahci", nic="e1000e", uefi=True,
                serial_input=True)
        vms.append(vm)
        if boot(vm):
            fp3, hk3 = check_services(vm, publish_allowed=False)
            check_refused(vm)
            w = check_claim(vm)
            if w:
                # the wizard opens 8895 to this host: the firewall follows the settings
                check_site_settings(vm, w, "192.0.2.55 10.0.2.2")
                r = retry(lambda: http_get(vm.port[8895], "/health", timeout=5)[0] == 200, timeout=20)
                ok(r is True, "B: after the wizard allowed this host, 8895 answers it", r)
                check_console_over_ssh(vm, w)
                check_serial_login(vm)
                check_factory_reset(vm)
            ok(fp3 is not None and fp3 != fp1, "B: a fresh copy gets its own TLS certificate", (fp1, fp3))
            ok(hk3 is not None and hk3 != hk1, "B: a fresh copy gets its own SSH host key", (hk1, hk3))
        ok(vm.powerdown(), "B: ACPI power button powers off cleanly")
        bootlog = read_data_file(disk_b, "/log/boot.log")
        ok("Factory reset: wiping the data partition" in bootlog and "the data partition is empty" in bootlog,
           "B: stage 1 of the boot after the reset wiped the data partition (data/log/boot.log)", bootlog[-1500:])
        key3 = signature_key(disk_b)
        ok(key3 is not None and key3 != key1, "B: a fresh copy gets its own signature key")

        check_firewall_ipv6_fails(workdir, image)
        check_firewall_all_fails(workdir, image)
        privileges_boot(workdir, image)
        migrate010.check_migration(sys.modules[__name__], workdir, image, vms)

        ova = re.sub(r"\.raw$", ".ova", image)
        if os.path.isfile(ova):
            ova_boot(workdir, ova)
        else:
            ok(False, "the OVA next to the raw image exists", ova)

        unattended.check_unattended(sys.modules[__name__], workdir, image, vms)
        if matrix:
            matrix_boot(workdir, image, "X1", machine="q35", disk_bus="pvscsi", nic="vmxnet3")
            matrix_boot(workdir, image, "X2", machine="q35", disk_bus="virtio", nic="virtio-net-pci", uefi=True)
        update_thread.join()
    except OnlyUnattended:
        pass
    finally:
        for vm in vms:
            vm.kill()
        if os.environ.get("KEEP") == "1" or _failed:
            note("kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    note("total %.0f s" % (time.monotonic() - t_start))
    print("1..%d" % _n)
    print("%d passed, %d failed" % (_n - _failed, _failed))
    return 1 if _failed else 0


if __name__ == "__main__":
    sys.exit(main())
