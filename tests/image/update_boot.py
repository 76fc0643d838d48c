"""Boot-test checks of installing an update from outside (boot_test.py --update):

  UP-W  a fresh copy (q35, virtio, BIOS): claimed in the wizard, whose Update
        page shows slot a; a tampered copy of the bundle is uploaded and
        refused at Install (the slot and its version unchanged); then the
        bundle next to the image (pullbox-<version>.pbu from `make update`,
        signed with the key this image trusts) is uploaded, installed ("installed
        <version> in slot b; reboot to try it") and "Reboot to try it" is
        pressed: the appliance comes back on slot b, and once it passed its
        trial the page says committed
  UP-C  the same disk: over SSH `scp -O` puts into updates/ another product's
        bundle, one signed with another Ed25519 key, a truncated copy of the
        bundle, one whose initramfs is larger than the boot partition and an
        older version's (all but one signed with the key this image trusts);
        console item 15 > 1 refuses each, naming why (product, signature,
        truncated, space, downgrade: declined at its own confirmation), and
        the Update page's status is the same after them;
        then the bundle: console item 15 > 1 installs it into the other slot
        (a), "Reboot now" in the console; the appliance comes back on slot a,
        committed.

It needs the A/B slots and `pullbox-update` in the image (the installer's
contract: status lines slot=, version=, other-slot=, other-version=, state=,
message=; install prints "installed <version> in slot <x>; reboot to try it").
"""
import http.client
import os
import re
import subprocess
import tempfile
import time
import uuid

import update
from appliance_client import Console, _tls

STATE_TIMEOUT = 600  # a trial is judged within a bounded time after boot


def ready_count(vm):
    return vm.log().count("pullbox: ready")


def wait_ready_again(vm, before, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready_count(vm) > before:
            return True
        if vm.proc.poll() is not None:
            return False
        time.sleep(1)
    return False


def upload(w, data, filename):
    """POSTs data as the Update page's form does (the CSRF token first)."""
    _, _, page = w.get("/update")
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    boundary = "----pbboot" + uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"%s\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n")
            % (boundary, m.group(1) if m else "", boundary, filename)).encode() + data + \
        ("\r\n--%s--\r\n" % boundary).encode()
    c = http.client.HTTPSConnection("127.0.0.1", w.port, timeout=w.timeout, context=_tls())
    c.request("POST", "/update/upload", body, {"Cookie": w.cookie or "", "Origin": w.origin,
                                               "Content-Type": "multipart/form-data; boundary=" + boundary})
    r = c.getresponse()
    text = r.read().decode(errors="replace")
    c.close()
    return r.status, text


def slot_state(w):
    _, _, page = w.get("/update")
    slot = re.search(r'id="slot">([ab])<', page)
    state = re.search(r'id="state">([a-z-]+) ', page)
    return (slot.group(1) if slot else None, state.group(1) if state else None, page)


def wait_committed(bt, w, slot, name):
    end = time.monotonic() + STATE_TIMEOUT
    got = (None, None, "")
    while time.monotonic() < end:
        got = bt.retry(lambda: slot_state(w), timeout=60)
        if isinstance(got, tuple) and got[:2] == (slot, "committed"):
            break
        time.sleep(10)
    bt.ok(isinstance(got, tuple) and got[:2] == (slot, "committed"),
          "%s: the appliance runs slot %s and kept it after its trial boot" % (name, slot),
          got[2][-1500:] if isinstance(got, tuple) else got)


def scp_to(vm, password, *paths):
    d = tempfile.mkdtemp(prefix="pullbox-scp-")
    askpass = os.path.join(d, "askpass")
    with open(askpass, "w") as f:
        f.write("#!/bin/sh\necho '%s'\n" % password)
    os.chmod(askpass, 0o700)
    env = dict(os.environ, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    r = subprocess.run(["scp", "-O", "-P", str(vm.port[22]), "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
                        "-o", "LogLevel=ERROR"] + list(paths) + ["admin@127.0.0.1:updates/"],
                       env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    os.unlink(askpass)
    os.rmdir(d)
    return r.returncode, r.stdout + r.stderr


def status_block(w):
    """The Update page's status facts (versions, slots, state, last update)."""
    m = re.search(r'<dl class="facts" id="update-status">.*?</dl>', slot_state(w)[2], re.S)
    return m.group(0) if m else None


# bigger than the whole ESP (64 MiB): whatever the boot partition holds, a
# kernel and initramfs this size never fit, so the installer refuses at its
# space check after the bundle verified
TOO_BIG_INITRD = 64 << 20


def refusal_bundles(bt, workdir, data):
    """{file: (what the refusal names, is a downgrade)}: another product's bundle, one signed
    with a key the image does not trust and an older one (small parts: refused before any is
    read), a truncated copy of data, and one whose initramfs does not fit the boot partition."""
    d = os.path.join(workdir, "upc")
    os.makedirs(d, exist_ok=True)
    part = os.path.join(d, "part")
    with open(part, "wb") as f:
        f.write(b"a part that is never installed\n")
    other, _ = update.make_bundle(bt, d, "otherbox", "9.9.9", part, part, part, product="otherbox")
    stranger_key = os.path.join(d, "stranger-key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", stranger_key],
                   check=True, capture_output=True)
    os.chmod(stranger_key, 0o600)
    stranger, _ = update.make_bundle(bt, d, "stranger", "9.9.9", part, part, part, signing_key=stranger_key)
    big = os.path.join(d, "big-initrd")
    with open(big, "wb") as f:
        f.truncate(TOO_BIG_INITRD)
    too_big, _ = update.make_bundle(bt, d, "too-big", "9.9.9", part, part, big)
    os.unlink(big)
    older, _ = update.make_bundle(bt, d, "older", "0.1.9", part, part, part)
    cut = os.path.join(d, "truncated.pbu")
    with open(cut, "wb") as f:
        f.write(data[:len(data) * 2 // 3])
    return {other: ("product:", False), stranger: ("signature: the manifest's signature does not verify", False),
            cut: ("truncated:", False), too_big: ("space: the boot partition has", False),
            older: ("0.1.9 is older than the running", True)}


def console_refusal(c, item, path, words, downgrade):
    """Console item 15 > 1 > path's bundle: refused naming words (a downgrade: declined at
    its confirmation), back at the menu; True when all of it was seen."""
    start = len(c.out)
    c.send(item)
    seen = c.read_until(r"Choose \(1-4", timeout=60) is not None
    c.send("1")
    m = c.read_until(r"(\d+)\s+%s \(" % re.escape(os.path.basename(path)), timeout=60)
    c.send(m.group(1) if m else "q")
    if downgrade:
        seen = seen and c.read_until(r"Install the older version anyway", timeout=300) is not None
        c.send("n")
    seen = seen and c.read_until(r"Nothing was installed(.|\n)*Press Enter to return to the menu",
                                 timeout=300) is not None
    c.send("")
    seen = seen and c.read_until(r"Choose 1-\d+: ", timeout=60) is not None
    return bool(seen and words in c.out[start:] and "reboot to try it" not in c.out[start:])


def check_update(bt, workdir, image, vms):
    bundle = re.sub(r"\.raw$", ".pbu", image)
    if not bt.ok(os.path.isfile(bundle), "the update bundle next to the image exists (make update)", bundle):
        return
    data = open(bundle, "rb").read()
    version = re.search(rb"\nversion=([^\n]+)\n", data[:4096])
    version = version.group(1).decode() if version else "?"
    disk = os.path.join(workdir, "update.raw")
    subprocess.run(["cp", "--sparse=always", image, disk], check=True)

    # ---- UP-W: the wizard ----
    vm = bt.VM(disk, workdir, "UP-W")
    vms.append(vm)
    if not bt.boot(vm):
        return
    w = bt.check_claim(vm)
    if not w:
        return
    slot, state, page = slot_state(w)
    bt.ok(slot == "a" and state == "committed", "UP-W: the Update page shows slot a, committed", page[-1500:])
    bad = bytearray(data)
    bad[-4096] ^= 1
    st, text = upload(w, bytes(bad), "tampered.pbu")
    st2, _, res = w.post_form("/update/install", {})
    bt.ok(st == 200 and st2 == 422 and "tampered part" in res and slot_state(w)[:2] == ("a", "committed"),
          "UP-W: a tampered bundle is refused at Install; slot a stays as it was", (st, st2, res[-1500:]))
    st, text = upload(w, data, os.path.basename(bundle))
    bt.ok(st == 200 and "Uploaded:" in text, "UP-W: the bundle (%d MiB) uploads" % (len(data) >> 20), text[-1500:])
    st, _, res = w.post_form("/update/install", {})
    bt.ok(st == 200 and ("installed %s in slot b; reboot to try it" % version) in res,
          "UP-W: Install writes the other slot and says so", res[-1500:])
    before = ready_count(vm)
    w.post_form("/update/reboot", {})
    if not bt.ok(wait_ready_again(vm, before, bt.BOOT_TIMEOUT * 2), "UP-W: the appliance reboots into the new slot",
                 vm.log()[-2000:]):
        return
    w = bt.Wizard(vm.port[443])
    bt.ok(bt.retry(lambda: w.login(bt.ADMIN_PASSWORD)[0] in (302, 303), timeout=60) is True,
          "UP-W: the admin logs in again after the update")
    wait_committed(bt, w, "b", "UP-W")

    # ---- UP-C: scp and the console: five refusals, then back into slot a ----
    refusals = refusal_bundles(bt, workdir, data)
    code, out = scp_to(vm, bt.ADMIN_PASSWORD, bundle, *refusals)
    bt.ok(code == 0, "UP-C: scp -O puts the bundle and %d bad ones into the admin's updates/" % len(refusals), out)
    before_status = status_block(w)
    c = Console(vm.port[22], "admin", bt.ADMIN_PASSWORD, timeout=60)
    try:
        seen = c.read_until(r"Choose 1-\d+: ", timeout=90) is not None
        m = re.search(r"(\d+)  Update", c.out)
        item = m.group(1) if m else "15"
        for path, (words, downgrade) in refusals.items():
            start = len(c.out)
            bt.ok(seen and console_refusal(c, item, path, words, downgrade),
                  "UP-C: console item 15 refuses %s naming \"%s\"%s" % (
                      os.path.basename(path), words, ", declined at its own confirmation" if downgrade else ""),
                  c.out[start:][-2000:])
        after = bt.retry(lambda: status_block(w), timeout=60)
        bt.ok(before_status is not None and after == before_status,
              "UP-C: after the refusals the Update page's status is what it was (slot b, committed, the same "
              "other slot and last update)", (before_status, after))
        c.send(item)
        seen = seen and c.read_until(r"Choose \(1-4", timeout=60) is not None and "in slot b" in c.out
        c.send("1")
        m = c.read_until(r"(\d+)\s+%s \(" % re.escape(os.path.basename(bundle)), timeout=60)
        c.send(m.group(1) if m else "q")
        seen = seen and c.read_until(r"Reboot now to try it\?", timeout=bt.BOOT_TIMEOUT) is not None
        bt.ok(seen and ("installed %s in slot a; reboot to try it" % version) in c.out,
              "UP-C: console item 15 installs the bundle from ~/updates into slot a", c.out[-2000:])
        before = ready_count(vm)
        c.send("y")
        c.read_until(r"restarts", timeout=60)
    finally:
        c.close()
    if bt.ok(wait_ready_again(vm, before, bt.BOOT_TIMEOUT * 2), "UP-C: the appliance reboots into slot a",
             vm.log()[-2000:]):
        w = bt.Wizard(vm.port[443])
        bt.retry(lambda: w.login(bt.ADMIN_PASSWORD)[0] in (302, 303), timeout=60)
        wait_committed(bt, w, "a", "UP-C")
    bt.ok(vm.powerdown(), "UP-C: ACPI power button powers off cleanly")
