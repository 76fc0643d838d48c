"""Boot-test checks of updates on the A/B system slots (used by boot_test.py).

The bundles are made here from the image's own parts (slot a's squashfs, the
kernel and initramfs on the ESP) with a higher version written into the
system, and signed by the builder's key (appliance/scripts/signing-key.sh),
the key whose public half the image carries. They reach the appliance through
the data disk's inbox (/data/update, root's), which stage 1 installs from
with pullbox-update install; the appliance has no root shell to type it in.

  U-A1  (BIOS) a fresh copy with a tampered bundle (one byte of its system changed)
        in the inbox: refused as a tampered part; slot b stays empty, the ESP
        has no /b, both boot menus still boot slot a, no trial is armed
  U-A2  (BIOS, an i6300esb watchdog) the same disk with a good bundle (version
        +1): installed in slot b, the appliance reboots by itself, slot a's
        initramfs arms the watchdog and starts the trial of slot b with kexec
        (the menus keep booting a), the trial's initramfs re-arms the watchdog
        (420 s), the trial boot comes up healthy and is kept; the new version
        serves (a message signed with the key of U-A1 is delivered; the
        allowed publisher still publishes); 60 s past the moment the watchdog
        would have reset it, the same pullboxd still runs (kept = stopped);
        pullbox-update status (logged by the trial service) says slot=b,
        committed; the menus boot b; the signature key did not change
  U-A3  (UEFI) a broken bundle (version +2: its pullboxd exits at once) is
        installed in slot a; its trial boot is not healthy within 300 s, the appliance
        goes back to slot b by itself, status says rolled-back naming the
        version that failed, the console banner says it; the services and
        the key are those of U-A2
  U-A4  (UEFI, an i6300esb watchdog) a bundle whose initramfs is garbage (version +3, signed, so it
        installs): slot b's initramfs starts its trial with kexec, the kernel
        cannot unpack it and panics; panic=10 reboots through the firmware,
        whose menus still boot slot b: b is ready again by itself, status,
        banner and (once claimed) the wizard's Update page say the update to
        +3 failed (its kernel stopped before its initramfs ran), both menus
        boot b, no trial is left
  U-A5  (BIOS) the same bundle again, the same panic and the same way back
  U-A6  (BIOS) a bundle whose kernel is garbage (version +4): the running
        kernel refuses to load it, slot b's initramfs notes why and boots b
        on; status and banner say the update failed, naming the refusal
  U-A7  (BIOS, an i6300esb watchdog) a bundle whose initramfs /init hangs
        without a panic (version +5): slot b's initramfs arms the watchdog for
        KEXEC_WATCHDOG s before the kexec; the trial kernel (its command line
        has pullbox.trial, softlockup_panic=1, hung_task_panic=1) runs that
        /init, which hangs; no panic, but the watchdog resets the VM no sooner
        than KEXEC_WATCHDOG s after it was armed; slot b is ready again by
        itself, serves, status and banner say the update to +5 failed, both
        menus boot b, no trial is left
  U-A8  (BIOS, no watchdog device: VirtualBox, Hyper-V, VMware Workstation)
        the same bundle again: slot b's initramfs says there is no hardware
        watchdog, the trial hangs and stays hung (KEXEC_WATCHDOG + 60 s of
        silence); the admin resets the VM (QEMU system_reset) and slot b comes
        back by itself, reporting the failed update

U-A* run one after the other on one disk, in a thread beside the other boots
(boot_test.py --only-slots=U-A2,U-A4: only those, on one disk)."""
import os
import re
import struct
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPTS = os.path.join(ROOT, "appliance", "scripts")
# one boot to 'ready' (TCG, a busy host), twice, plus the 300 s of a trial
UPDATE_TIMEOUT = int(os.environ.get("BOOT_TIMEOUT", "300")) * 2 + 300
MTOOLS_ENV = dict(os.environ, MTOOLS_SKIP_CHECK="1")


def init_constant(name):
    """A number the initramfs's init sets (its watchdog timeouts), so the test follows it."""
    with open(os.path.join(ROOT, "appliance", "initramfs", "init")) as f:
        return int(re.search(r"^%s=(\d+)" % name, f.read(), re.M).group(1))


KEXEC_WATCHDOG = init_constant("KEXEC_WATCHDOG")
TRIAL_WATCHDOG = init_constant("TRIAL_WATCHDOG")


def partitions(disk):
    import json
    out = subprocess.run(["sfdisk", "-J", disk], check=True, capture_output=True, text=True).stdout
    return {p.get("name"): p for p in json.loads(out)["partitiontable"]["partitions"]}


def esp_img(disk):
    return "%s@@%d" % (disk, partitions(disk)["ESP"]["start"] * 512)


def esp_read(disk, path):
    r = subprocess.run(["mtype", "-i", esp_img(disk), "::" + path], capture_output=True, env=MTOOLS_ENV)
    return r.stdout.decode(errors="replace") if r.returncode == 0 else None


def esp_copy_out(disk, path, local):
    subprocess.run(["mcopy", "-n", "-i", esp_img(disk), "::" + path, local], check=True, env=MTOOLS_ENV)


def slot_bytes(disk, name, n):
    with open(disk, "rb") as f:
        f.seek(partitions(disk)[name]["start"] * 512)
        return f.read(n)


def next_version(v, step):
    parts = v.split(".")
    parts[-1] = str(int(parts[-1]) + step)
    return ".".join(parts)


def make_system(workdir, base, name, version, broken=False):
    """base's squashfs with etc/pullbox-version = version (and a pullboxd that
    cannot start if broken)."""
    d = os.path.join(workdir, name + ".d")
    subprocess.run(["unsquashfs", "-q", "-n", "-d", d, base], check=True, capture_output=True)
    with open(os.path.join(d, "etc", "pullbox-version"), "w") as f:
        f.write(version + "\n")
    if broken:
        with open(os.path.join(d, "usr", "sbin", "pullboxd"), "w") as f:
            f.write("#!/bin/sh\necho 'pullboxd: broken on purpose by the boot test' >&2\nexit 1\n")
        os.chmod(os.path.join(d, "usr", "sbin", "pullboxd"), 0o755)
    out = os.path.join(workdir, name + ".squashfs")
    subprocess.run(["mksquashfs", d, out, "-comp", "xz", "-all-root", "-noappend", "-quiet"], check=True,
                   capture_output=True)
    subprocess.run(["rm", "-rf", d], check=True)
    return out


def make_bundle(t, workdir, name, version, system, kernel, initrd, product="pullbox", signing_key=None):
    """Signs with the builder's key (the one the image trusts), or with signing_key when given."""
    pub = os.path.join(workdir, "update-key.pem")
    env = dict(os.environ, PULLBOX_SIGNING_KEY=signing_key) if signing_key else None
    key = subprocess.run([os.path.join(SCRIPTS, "signing-key.sh"), pub], capture_output=True, text=True,
                         check=True, env=env).stdout.strip()
    out = os.path.join(workdir, name + ".pbu")
    subprocess.run([os.path.join(SCRIPTS, "mkbundle.sh"), out, product, version, "0.1.0", key,
                    "system.squashfs=" + system, "vmlinuz=" + kernel, "initrd.img=" + initrd],
                   check=True, capture_output=True, env=dict(os.environ, SOURCE_DATE_EPOCH="1700000000"))
    return out, pub


def image_parts(t, workdir, image):
    """slot a's squashfs (its bytes_used, 4 KiB padded), kernel, initramfs, version, image key."""
    with open(image, "rb") as f:
        f.seek(partitions(image)["pullbox-system-a"]["start"] * 512)
        sb = f.read(96)
        used = struct.unpack_from("<Q", sb, 40)[0]
        f.seek(-96, 1)
        data = f.read((used + 4095) // 4096 * 4096)
    base = os.path.join(workdir, "base.squashfs")
    with open(base, "wb") as f:
        f.write(data)
    kernel, initrd = os.path.join(workdir, "vmlinuz"), os.path.join(workdir, "initrd.img")
    esp_copy_out(image, "/a/vmlinuz", kernel)
    esp_copy_out(image, "/a/initrd.img", initrd)
    version = (esp_read(image, "/a/version") or "").strip()
    key = subprocess.run(["unsquashfs", "-cat", base, "usr/share/pullbox/update-key.pem"], capture_output=True,
                         text=True).stdout
    return base, kernel, initrd, version, key


def put_inbox(t, disk, workdir, local, name):
    t.debugfs(disk, "mkdir /update\nrm /update/%s\nwrite %s /update/%s\n" % (name, local, name), write=True)
    return name in t.debugfs(disk, "ls /update\n")


def wait_for(vm, pattern, after=0, timeout=UPDATE_TIMEOUT):
    """Position in the serial log just past pattern (found after position after), or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = re.compile(pattern).search(vm.log(), after)
        if m:
            return m.end()
        if vm.proc.poll() is not None:
            return None
        time.sleep(1)
    return None


def boot_with_bundle(t, disk, wd, vms, name, bundle, inbox_name, version, slot, uefi=False, start=True,
                     watchdog=False):
    """Boots disk with bundle in its inbox; (vm, serial log position once the trial boot of
    slot began (or, start=False, once it was installed), or None)."""
    t.ok(put_inbox(t, disk, wd, bundle, inbox_name), "%s: the bundle of %s put in /data/update" % (name, version))
    vm = t.VM(disk, wd, name, uefi=uefi, watchdog=watchdog)
    vms.append(vm)
    vm.start()
    pos = wait_for(vm, r"installed %s in slot %s; reboot to try it" % (re.escape(version), slot))
    t.ok(pos is not None, "%s: stage 1 installs %s in slot %s" % (name, version, slot), vm.log()[-3000:])
    back = "a" if slot == "b" else "b"
    if not start:
        return vm, pos
    pos = pos and wait_for(vm, r"initramfs: starting the trial of slot %s \(kexec\); if it fails, slot %s "
                           % (slot, back), pos)
    t.ok(pos is not None, "%s: the appliance reboots by itself, and slot %s's initramfs starts the trial of "
         "slot %s with kexec" % (name, back, slot), vm.log()[-3000:])
    return vm, pos


def trial_runs(t, vm, name, pos, slot):
    """The serial log position once slot's own initramfs runs its trial, or None."""
    back = "a" if slot == "b" else "b"
    pos = pos and wait_for(vm, r"initramfs: trial boot of slot %s; the next boot is slot %s " % (slot, back), pos)
    t.ok(pos is not None, "%s: the kexec'd kernel runs slot %s's initramfs, which arms the trial's watchdog"
         % (name, slot), vm.log()[-3000:])
    return pos


def check_panic_rollback(t, wd, disk, vms, name, bundle, inbox_name, version, good, key, uefi, wizard=False,
                         watchdog=False):
    """A bundle whose initramfs the kernel cannot unpack, installed in slot a from slot b
    (wizard: the admin claims the appliance and reads the Update page)."""
    vm, pos = boot_with_bundle(t, disk, wd, vms, name, bundle, inbox_name, version, "a", uefi=uefi,
                               watchdog=watchdog)
    panic = pos and wait_for(vm, r"Kernel panic - not syncing", pos)
    t.ok(panic is not None, "%s: the trial's kernel cannot unpack its initramfs and panics" % name, vm.log()[-3000:])
    ready = panic and wait_for(vm, r"pullbox: ready", panic)
    t.ok(ready is not None, "%s: panic=10 reboots through the firmware into slot b, ready again by itself" % name,
         vm.log()[-3000:])
    if ready:
        log = vm.log()
        head = log[:ready][-4000:]
        t.ok("initramfs: trial boot of slot a" not in log[pos:] and "starting the trial" not in log[panic:]
             and "Pullbox %s - Push & Pull" % good in head and
             re.search(r"Update: +The update to %s failed its trial boot in slot a" % re.escape(version), head),
             "%s: the boot after the panic is slot b (%s), not a second try of slot a, and its console banner "
             "says the update to %s failed" % (name, good, version), head)
        t.check_services(vm)
        if key:
            t.check_delivery(vm, key)
    w = ready and wizard and t.check_claim(vm)
    if w:
        page = w.get("/update")[2]
        t.ok(re.search(r'id="slot">b<', page) and re.search(r'id="state">rolled-back ', page) and
             re.search(r'id="update-message">The update to %s failed its trial boot in slot a \(its kernel '
                       r'stopped before its initramfs ran' % re.escape(version), page),
             "%s: the wizard's Update page says slot b, rolled back, and why the update to %s failed"
             % (name, version), page[-2000:])
    t.ok(vm.powerdown(), "%s: ACPI power button powers off cleanly" % name)
    blog = t.read_data_file(disk, "/log/boot.log")
    m = "message=The update to %s failed its trial boot in slot a (its kernel stopped before its initramfs ran" \
        % version
    t.ok(all(s in blog for s in ("slot=b", "version=" + good, "state=rolled-back", m)),
         "%s: pullbox-update status: slot=b, %s, rolled-back, naming %s and where it stopped" % (name, good, version),
         blog[-2500:])
    t.ok(defaults(disk) == ["b", "b"] and esp_read(disk, "/pullbox/trial") is None,
         "%s: both boot menus boot slot b, no trial is left" % name, defaults(disk))


HANG_LINE = "boot test: this trial's /init hangs here; its kernel's options: "


def make_hang_initrd(wd, initrd):
    """The image's initramfs with an /init that says so on the serial line and then sleeps
    forever: a trial that hangs without a panic (its kernel and initramfs run)."""
    d = os.path.join(wd, "hang-initrd.d")
    os.makedirs(d)
    subprocess.run("gzip -dc '%s' | cpio -id --quiet" % initrd, shell=True, cwd=d, check=True)
    with open(os.path.join(d, "init"), "w") as f:
        f.write("#!/bin/sh\nmount -t proc proc /proc\nmount -t devtmpfs dev /dev\n"
                "echo \"%s$(cat /proc/cmdline)\" >/dev/ttyS0\nexec sleep 2147483647\n" % HANG_LINE)
    os.chmod(os.path.join(d, "init"), 0o755)
    out = os.path.join(wd, "hang-initrd.img")
    subprocess.run("find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -n >'%s'" % out,
                   shell=True, cwd=d, check=True)
    subprocess.run(["rm", "-rf", d], check=True)
    return out


def output_after(vm, pos, timeout):
    """monotonic time at which the serial log first has more than blanks after pos, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if vm.log()[pos:].strip():
            return time.monotonic()
        if vm.proc.poll() is not None:
            return None
        time.sleep(1)
    return None


def check_hang_rollback(t, wd, disk, vms, name, bundle, inbox_name, version, good, key, watchdog):
    """A trial whose /init hangs, installed in the slot that is not committed: with a watchdog
    device the VM is reset by it, without one the admin resets it; either way the committed
    slot comes back and says why."""
    back = defaults(disk)[0]
    slot = "a" if back == "b" else "b"
    vm, pos = boot_with_bundle(t, disk, wd, vms, name, bundle, inbox_name, version, slot, watchdog=watchdog)
    if watchdog:
        said = r"initramfs: hardware watchdog armed for the trial \(watchdog\d \(i6300ESB timer\): %d s\)" \
            % KEXEC_WATCHDOG
        what = "arms the VM's i6300esb for %d s before the kexec" % KEXEC_WATCHDOG
    else:
        said = r"initramfs: no hardware watchdog: a trial that hangs before its initramfs runs is not reset " \
            r"\(reset the VM\)"
        what = "says there is no hardware watchdog"
    # whichever comes first: the line said before the kexec, or (without it) the hang
    first = pos and wait_for(vm, "(?:%s|%s)" % (said, re.escape(HANG_LINE)), pos)
    t_armed = time.monotonic()
    armed = first and re.compile(said).search(vm.log(), pos)
    t.ok(bool(armed), "%s: slot %s's initramfs %s" % (name, back, what), vm.log()[-3000:])
    hang = first and wait_for(vm, re.escape(HANG_LINE) + r"[^\n]*\n", pos)
    opts = re.search(re.escape(HANG_LINE) + r"([^\n]*)", vm.log()[pos:]) if hang else None
    opts = opts.group(1).split() if opts else []
    t.ok(hang is not None and all(o in opts for o in ("pullbox.system=pullbox-system-" + slot, "pullbox.trial",
                                                       "softlockup_panic=1", "hung_task_panic=1")),
         "%s: the kexec'd trial kernel (pullbox.trial softlockup_panic=1 hung_task_panic=1 on its command line) "
         "runs the /init that hangs" % name, vm.log()[-3000:])
    if not hang:
        vm.kill()
        return
    if watchdog:
        t_out = output_after(vm, hang, KEXEC_WATCHDOG + UPDATE_TIMEOUT)
        seen = vm.log()[hang:]
        t.ok(t_out is not None and t_out - t_armed >= KEXEC_WATCHDOG - 5 and "Kernel panic" not in seen,
             "%s: no panic, nothing for %d s, then the watchdog resets the VM (next output %s s after it was armed)"
             % (name, KEXEC_WATCHDOG, "%.0f" % (t_out - t_armed) if t_out else "never"), seen[-3000:])
        if t_out:
            t.note("%s: the watchdog reset came %.0f s after slot %s's initramfs armed it (%d s)"
                   % (name, t_out - t_armed, back, KEXEC_WATCHDOG))
    else:
        quiet = output_after(vm, hang, KEXEC_WATCHDOG + 60) is None and vm.proc.poll() is None
        t.ok(quiet, "%s: without a watchdog device nothing resets the hung trial (%d s of silence)"
             % (name, KEXEC_WATCHDOG + 60), vm.log()[hang:][-3000:])
        vm.hmp("system_reset")  # what the admin does: reset the VM
    ready = wait_for(vm, r"pullbox: ready", hang)
    t.ok(ready is not None, "%s: %s slot %s is ready again by itself" % (
        name, "after the reset" if watchdog else "after the admin's reset,", back), vm.log()[-3000:])
    why = "its kernel stopped before its initramfs ran"
    if ready:
        head = vm.log()[:ready][-4000:]
        t.ok("Pullbox %s - Push & Pull" % good in head and "starting the trial" not in vm.log()[hang:] and
             re.search(r"Update: +The update to %s failed its trial boot in slot %s \(%s" % (
                 re.escape(version), slot, why), head),
             "%s: the boot after the reset is slot %s (%s), not a second try, and its console banner says the "
             "update to %s failed" % (name, back, good, version), head)
        t.check_services(vm)
        if key:
            t.check_delivery(vm, key)
    t.ok(vm.powerdown(), "%s: ACPI power button powers off cleanly" % name)
    blog = t.read_data_file(disk, "/log/boot.log")
    m = "message=The update to %s failed its trial boot in slot %s (%s" % (version, slot, why)
    t.ok(all(s in blog for s in ("slot=" + back, "version=" + good, "state=rolled-back", m)),
         "%s: pullbox-update status: slot=%s, %s, rolled-back, naming %s" % (name, back, good, version),
         blog[-2500:])
    t.ok(defaults(disk) == [back, back] and esp_read(disk, "/pullbox/trial") is None,
         "%s: both boot menus boot slot %s, no trial is left" % (name, back), defaults(disk))


def check_kept(t, wd, disk, vms, good, v0, v1, key1):
    """U-A2: the good bundle in slot b, its trial kept, the watchdogs the trial armed stopped:
    the VM is not reset once their timeout has passed (key1 None: U-A1 did not run)."""
    vm, start = boot_with_bundle(t, disk, wd, vms, "U-A2", good, "20-good.pbu", v1, "b", watchdog=True)
    armed = start and wait_for(vm, r"initramfs: hardware watchdog armed for the trial \(watchdog\d \(i6300ESB "
                               r"timer\): %d s\)" % KEXEC_WATCHDOG, start)
    t.ok(armed is not None, "U-A2: slot a's initramfs arms the VM's i6300esb for %d s before the kexec"
         % KEXEC_WATCHDOG, vm.log()[-3000:])
    rearm = armed and wait_for(vm, r"initramfs: trial: the hardware watchdog resets this boot unless it is kept "
                               r"\(watchdog\d \(i6300ESB timer\): %d s, re-armed ([0-9.]+) s after its kernel "
                               r"started\)" % TRIAL_WATCHDOG, armed)
    t_rearm = time.monotonic()  # no sooner than the re-arm
    t.ok(rearm is not None, "U-A2: the trial's initramfs re-arms the i6300esb for the trial (%d s) first thing"
         % TRIAL_WATCHDOG, vm.log()[-3000:])
    if rearm:
        m = re.findall(r"re-armed ([0-9.]+) s after its kernel started", vm.log()[:rearm])
        t.note("U-A2: the trial kernel's initramfs re-armed the watchdog %s s after the kernel started (it has %d)"
               % (m[-1], KEXEC_WATCHDOG))
    trial = trial_runs(t, vm, "U-A2", rearm or start, "b")
    pos = trial and wait_for(vm, r"pullbox-update: kept %s in slot b" % re.escape(v1), trial)
    t.ok(pos is not None, "U-A2: the trial boot of slot b is kept once healthy", vm.log()[-4000:])
    pos = pos and wait_for(vm, r"pullbox: ready", trial)
    if t.ok(pos is not None, "U-A2: the updated appliance is ready", vm.log()[-3000:]):
        t.ok("Pullbox %s - Push & Pull" % v1 in vm.log()[-4000:], "U-A2: the console banner shows %s" % v1)
        t.check_services(vm)
        if key1:
            t.check_delivery(vm, key1)
    if pos and rearm:
        # past the moment the trial's watchdogs would reset the VM had the kept trial not stopped them
        before = t.retry(lambda: t.server_stat(vm.port[8895]), timeout=30)
        ready = vm.log().count("pullbox: ready")
        time.sleep(max(0, t_rearm + TRIAL_WATCHDOG + 60 - time.monotonic()))
        after = t.retry(lambda: t.server_stat(vm.port[8895]), timeout=30)
        t.ok(isinstance(before, dict) and isinstance(after, dict) and vm.proc.poll() is None
             and after.get("processUniqueId") == before.get("processUniqueId")
             and after.get("uptime", 0) > before.get("uptime", 0) and vm.log().count("pullbox: ready") == ready,
             "U-A2: %d s after the re-arm the VM was not reset: the same pullboxd serves (uptime %s s)"
             % (TRIAL_WATCHDOG + 60, after.get("uptime") if isinstance(after, dict) else "?"), (before, after))
    t.ok(vm.powerdown(), "U-A2: ACPI power button powers off cleanly")
    tlog = t.read_data_file(disk, "/log/pullbox-trial/current")
    t.ok(all(s in tlog for s in ("slot=b", "version=" + v1, "other-slot=a", "other-version=" + v0,
                                 "state=committed", "message=Updated from %s (slot a) to %s (slot b)" % (v0, v1))),
         "U-A2: pullbox-update status after the trial: slot=b, %s, other %s, committed" % (v1, v0), tlog[-2000:])
    t.ok(defaults(disk) == ["b", "b"] and esp_read(disk, "/pullbox/trial") is None
         and (esp_read(disk, "/b/version") or "").strip() == v1,
         "U-A2: both boot menus boot slot b now, no trial is left", defaults(disk))
    if key1:
        t.ok(t.signature_key(disk) == key1, "U-A2: the signature key survived the update")


def check_unhealthy(t, wd, disk, vms, broken, v1, v2, key1):
    """U-A3: a trial whose pullboxd cannot start is rolled back by pullbox-update watch."""
    vm, pos = boot_with_bundle(t, disk, wd, vms, "U-A3", broken, "30-broken.pbu", v2, "a", uefi=True)
    pos = trial_runs(t, vm, "U-A3", pos, "a")
    pos = pos and wait_for(vm, r"pullbox-update: the trial of %s in slot a failed: [^\n]*pullboxd" % re.escape(v2),
                           pos)
    t.ok(pos is not None, "U-A3: the trial boot is not healthy (pullboxd) within its time", vm.log()[-3000:])
    pos = pos and wait_for(vm, r"pullbox: ready", pos)
    t.ok(pos is not None, "U-A3: the appliance comes back on its own", vm.log()[-3000:])
    if pos:
        head = vm.log()[:pos][-4000:]
        t.ok("Pullbox %s - Push & Pull" % v1 in head and
             re.search(r"Update: +The update to %s failed its trial boot in slot a" % re.escape(v2), head),
             "U-A3: the console banner shows %s again and says the update to %s failed" % (v1, v2), head)
        t.check_services(vm)
        if key1:
            t.check_delivery(vm, key1)
    t.ok(vm.powerdown(), "U-A3: ACPI power button powers off cleanly")
    blog = t.read_data_file(disk, "/log/boot.log")
    t.ok(all(s in blog for s in ("slot=b", "version=" + v1, "other-version=" + v2, "state=rolled-back",
                                 "message=The update to %s failed its trial boot in slot a" % v2)),
         "U-A3: pullbox-update status at the boot after: slot=b, %s, rolled-back naming %s" % (v1, v2), blog[-2500:])
    t.ok(defaults(disk) == ["b", "b"] and esp_read(disk, "/pullbox/trial") is None,
         "U-A3: both boot menus boot slot b again, no trial is left", defaults(disk))
    t.ok(t.signature_key(disk) == key1, "U-A3: the signature key survived the failed update")


def check_refused_kernel(t, wd, disk, vms, badkernel, v1, v4):
    """U-A6: a kernel the running one will not load: no trial, b boots on."""
    vm, pos = boot_with_bundle(t, disk, wd, vms, "U-A6", badkernel, "60-badkernel.pbu", v4, "a", start=False)
    why = "its kernel was not started: the kernel is not an image the running kernel can boot"
    pos = pos and wait_for(vm, r"initramfs: the trial of slot a was not started \(refused: the kernel is not an "
                           r"image the running kernel can boot", pos)
    t.ok(pos is not None, "U-A6: slot b's initramfs says the running kernel refused the trial's kernel",
         vm.log()[-3000:])
    ready = pos and wait_for(vm, r"pullbox: ready", pos)
    t.ok(ready is not None and re.search(r"Update: +The update to %s failed its trial boot in slot a \(%s"
                                         % (re.escape(v4), why), vm.log()[:ready][-4000:])
         and "Pullbox %s - Push & Pull" % v1 in vm.log()[:ready][-4000:],
         "U-A6: slot b boots on, its banner says the update to %s failed and why" % v4, vm.log()[-3000:])
    t.ok(vm.powerdown(), "U-A6: ACPI power button powers off cleanly")
    t.ok(defaults(disk) == ["b", "b"] and esp_read(disk, "/pullbox/trial") is None,
         "U-A6: both boot menus boot slot b, no trial is left", defaults(disk))


def menus_default(disk):
    return [re.search(r"^DEFAULT (\S+)", esp_read(disk, p) or "", re.M) for p in
            ("/syslinux/syslinux.cfg", "/EFI/BOOT/syslinux.cfg")]


def defaults(disk):
    return [m.group(1) if m else None for m in menus_default(disk)]


def check_update(t, workdir, image, vms, cases=None):
    """t: the boot_test module (its VM, probes and TAP functions); cases: the U-A* to run
    (all when None), in their order on one disk."""
    def want(case):
        return cases is None or case in cases
    t0 = time.monotonic()
    wd = os.path.join(workdir, "update")
    os.makedirs(wd, exist_ok=True)
    base, kernel, initrd, v0, image_key = image_parts(t, wd, image)
    v1, v2, v3, v4, v5 = (next_version(v0, n) for n in (1, 2, 3, 4, 5))
    good_sys = make_system(wd, base, "good", v1)
    good, pub = make_bundle(t, wd, "good", v1, good_sys, kernel, initrd)
    if not t.ok(open(pub).read() == image_key,
                "U-A: the builder's signing key is the one the image trusts (else rebuild the image)"):
        return
    broken, _ = make_bundle(t, wd, "broken", v2, make_system(wd, base, "broken", v2, broken=True), kernel, initrd)
    # an initramfs no kernel can unpack (signed all the same: it installs)
    garbage = os.path.join(wd, "garbage-initrd.img")
    with open(garbage, "wb") as f:
        f.write(b"not an initramfs: the boot test's garbage\n" * 4096)
    panic, _ = make_bundle(t, wd, "panic", v3, good_sys, kernel, garbage)
    badkernel, _ = make_bundle(t, wd, "badkernel", v4, good_sys, garbage, initrd)
    hang, _ = make_bundle(t, wd, "hang", v5, good_sys, kernel, make_hang_initrd(wd, initrd))
    with open(good, "rb") as f:
        data = bytearray(f.read())
    # a byte near the end of the system part (the parts: system, kernel, initramfs)
    data[-os.path.getsize(initrd) - os.path.getsize(kernel) - 4096] ^= 0x01
    tampered = os.path.join(wd, "tampered.pbu")
    with open(tampered, "wb") as f:
        f.write(data)

    disk = os.path.join(wd, "u.raw")
    subprocess.run(["cp", "--sparse=always", image, disk], check=True)
    t.write_data_file(disk, "/etc/settings.conf", "site.publishers = 10.0.2.2\n", wd)

    key1 = None
    # ---- U-A1: a tampered bundle is refused, nothing changes ----
    if want("U-A1"):
        t.ok(put_inbox(t, disk, wd, tampered, "10-tampered.pbu"), "U-A1: a tampered bundle put in /data/update")
        vm = t.VM(disk, wd, "U-A1")
        vms.append(vm)
        if t.boot(vm):
            t.check_services(vm)
        t.ok(vm.powerdown(), "U-A1: ACPI power button powers off cleanly")
        res = t.read_data_file(disk, "/update/done/10-tampered.pbu.result")
        t.ok("refused: tampered part: system.squashfs" in res,
             "U-A1: pullbox-update refuses the tampered bundle, naming the part", res)
        t.ok(slot_bytes(disk, "pullbox-system-b", 1 << 20) == b"\0" * (1 << 20)
             and esp_read(disk, "/b/vmlinuz") is None and esp_read(disk, "/pullbox/trial") is None
             and defaults(disk) == ["a", "a"],
             "U-A1: after the refusal slot b is untouched, the ESP has no /b, no trial, both menus boot a",
             defaults(disk))
        key1 = t.signature_key(disk)

    # ---- U-A2: a good bundle: installed in b, trial boot, kept, the watchdog stopped ----
    if want("U-A2"):
        check_kept(t, wd, disk, vms, good, v0, v1, key1)
        key1 = key1 or t.signature_key(disk)

    # ---- U-A3: a broken bundle fails its trial and rolls back by itself ----
    # on UEFI (U-A1 and U-A2 boot on BIOS): the same menu file, read by syslinux.efi
    if want("U-A3"):
        check_unhealthy(t, wd, disk, vms, broken, v1, v2, key1)

    # ---- U-A4 (UEFI), U-A5 (BIOS): a trial whose kernel panics comes back by itself ----
    if want("U-A4"):
        check_panic_rollback(t, wd, disk, vms, "U-A4", panic, "40-panic.pbu", v3, v1, key1, uefi=True, wizard=True,
                             watchdog=True)
    if want("U-A5"):
        check_panic_rollback(t, wd, disk, vms, "U-A5", panic, "50-panic.pbu", v3, v1, key1, uefi=False)
        t.ok(t.signature_key(disk) == key1, "U-A5: the signature key survived the failed updates")

    # ---- U-A6: a kernel the running one will not load: no trial, b boots on ----
    if want("U-A6"):
        check_refused_kernel(t, wd, disk, vms, badkernel, v1, v4)

    # ---- U-A7, U-A8: a trial that hangs without a panic: the watchdog (or the admin) resets it ----
    if want("U-A7"):
        check_hang_rollback(t, wd, disk, vms, "U-A7", hang, "70-hang.pbu", v5, v1, key1, watchdog=True)
    if want("U-A8"):
        check_hang_rollback(t, wd, disk, vms, "U-A8", hang, "80-hang.pbu", v5, v1, key1, watchdog=False)
    t.note("U-A: the update boots took %.0f s" % (time.monotonic() - t0))
