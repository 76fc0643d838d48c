#!/usr/bin/env python3
"""Console item 15, Update, under tmux (64-console.py's driver) against a
temporary appliance root with real runit, the real apply service and the real
pullbox-update-verify, with real bundles from appliance/scripts/mkbundle.sh
(small parts, a throw-away key, as 09-bundle.py makes them).

Every source: ~/updates (where `scp -O` puts a bundle: pullbox-console -c
runs the server side of scp, and nothing else), an http URL (BusyBox
wget from the image build when there is one, else the host's wget, run as
the console's user; a local HTTP server in the private network namespace),
and /data/updates. Every refusal of a bad bundle is named on the screen and
never reaches the installer: another key, a tampered part, a truncated
bundle, another product, a downgrade until the admin confirms it, not enough
space (a small tmpfs in a private mount namespace).

The slot installer (pullbox-update) is not in this tree yet: a stand-in
answers `status` as its contract says and records each install
(usr/sbin/pullbox-update); tests/image/boot_test.py installs with the real
one.
"""
import http.server
import importlib.util
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("PULLBOX_ROOT_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
# the version the tools are built with: the verifier compares a bundle's against it
with open(os.path.join(REPO, "VERSION")) as _f:
    RUNNING = _f.read().strip()
OUT = os.environ.get("O", os.path.join(REPO, "out"))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
from pbtest import note, done  # noqa: E402

if os.environ.get("PULLBOX_TEST_NETNS") != "1":
    for tool in ("unshare", "tmux", "runsvdir", "ip", "openssl"):
        if not shutil.which(tool):
            print("1..0 # SKIP %s is not installed" % tool, flush=True)
            sys.exit(0)
    if os.getuid() != 0:
        print("1..0 # SKIP needs root for unshare -n -m", flush=True)
        sys.exit(0)
    env = dict(os.environ, PULLBOX_TEST_NETNS="1")
    r = subprocess.run(["unshare", "-n", "-m", "--propagation", "private", "sh", "-c",
                        'ip link set lo up && exec "$@"', "sh", sys.executable,
                        os.path.abspath(__file__)], env=env)
    sys.exit(r.returncode)

spec = importlib.util.spec_from_file_location("console64", os.path.join(HERE, "64-console.py"))
c64 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(c64)
import approot  # noqa: E402

Console, ok, read, until, crypt_hash = c64.Console, c64.ok, c64.read, c64.until, c64.crypt_hash
MENU = r"Choose 1-15: "
SDE = "1700000000"


# ---- bundles ----
def mkbundle(work, name, version=RUNNING, min_from="0.1.0", product="pullbox", key="key.pem"):
    parts = []
    for p, size in (("system.squashfs", 300 * 1024 + 7), ("vmlinuz", 70000), ("initrd.img", 5)):
        f = os.path.join(work, "%s.%s" % (name, p))
        with open(f, "wb") as fh:
            fh.write((("%s:%s:" % (name, p)).encode() * size)[:size])
        parts.append("%s=%s" % (p, f))
    out = os.path.join(work, name)
    subprocess.run([os.path.join(REPO, "appliance/scripts/mkbundle.sh"), out, product, version, min_from,
                    os.path.join(work, key)] + parts, check=True, capture_output=True,
                   env=dict(os.environ, SOURCE_DATE_EPOCH=SDE), timeout=60)
    return open(out, "rb").read()


def make_bundles(work):
    for k in ("key.pem", "other.pem"):
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", os.path.join(work, k)],
                       check=True, capture_output=True, timeout=30)
    b = {"good": mkbundle(work, "good.pbu"),
         "otherkey": mkbundle(work, "otherkey.pbu", key="other.pem"),
         "product": mkbundle(work, "product.pbu", product="pushbox"),
         "older": mkbundle(work, "older.pbu", version="0.0.9", min_from="0.0.1")}
    t = bytearray(b["good"])
    t[-1000] ^= 1
    b["tampered"] = bytes(t)
    b["truncated"] = b["good"][:-5000]
    return b


def stand_in(root):
    """The installer's stand-in: the contract's status lines; an install
    records its arguments and prints the contract's line."""
    log = root.path("calls.log")
    verify = root.path("usr/sbin/pullbox-update-verify")
    with open(root.path("usr/sbin/pullbox-update"), "w") as f:
        f.write("""#!/bin/sh
case "$1" in
status) printf 'slot=a\\nversion=%s\\nother-slot=b\\nother-version=\\nstate=committed\\nmessage=\\n' ;;
install)
	# a refusal of its own, before it records an install
	case $* in *nospace.pbu)
		echo "pullbox-update: refused: space: the boot partition has 1 bytes for the kernel and initramfs, they need 2" >&2
		exit 1 ;;
	esac
	echo "pullbox-update $*" >>'%s'
	shift; [ "$1" = --allow-downgrade ] && { dg=$1; shift; }
	v=$('%s' $dg "$1" | sed -n 's/^version=//p')
	[ -n "$v" ] || exit 1
	echo "installed $v in slot b; reboot to try it" ;;
*) exit 100 ;;
esac
""" % (RUNNING, log, verify))
    os.chmod(root.path("usr/sbin/pullbox-update"), 0o755)


def installs(root):
    return [line for line in read(root.path("calls.log")).splitlines() if line.startswith("pullbox-update install")]


def wget_for(root):
    """BusyBox wget from the image build, else the host's: usr/bin/wget."""
    os.makedirs(root.path("usr/bin"), exist_ok=True)
    bb = os.path.join(OUT, "target", "bin", "busybox")
    dst = root.path("usr/bin/wget")
    if os.path.exists(bb):
        os.symlink(bb, dst)
        return "BusyBox"
    host = shutil.which("wget")
    if host:
        os.symlink(host, dst)
        return "host"
    return None


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory):
    handler = lambda *a, **k: Quiet(*a, directory=directory, **k)  # noqa: E731
    srv = socketserver.TCPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


# ---- scp: pullbox-console -c, as dropbear runs an SSH client's command ----
def scp_sink(root, command, name, data):
    """Runs pullbox-console -c command and speaks the scp protocol's sending
    side to it (what `scp -O file admin@appliance:updates/` does). Returns
    (exit code, stderr)."""
    p = subprocess.Popen([c64.CONSOLE, "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(os.environ, PULLBOX_ROOT=root.dir))
    try:
        if p.stdout.read(1) == b"\0":
            p.stdin.write(b"C0644 %d %s\n" % (len(data), name.encode()))
            p.stdin.flush()
            if p.stdout.read(1) == b"\0":
                p.stdin.write(data + b"\0")
                p.stdin.flush()
                p.stdout.read(1)
        p.stdin.close()
    except BrokenPipeError:
        pass
    err = p.stderr.read().decode(errors="replace")
    return p.wait(timeout=30), err


def check_scp(root, b):
    """The image's scp is dropbear's; here the host's OpenSSH scp plays the
    server side (the same protocol)."""
    scp = shutil.which("scp")
    if not scp:
        ok(False, "scp is installed (the server side of the scp protocol)")
        return
    os.symlink(scp, root.path("usr/sbin/scp"))
    home = root.path("data/home/admin/updates")
    code, err = scp_sink(root, "scp -t updates/", "pullbox-0.4.0.pbu", b["good"])
    ok(code == 0 and read(os.path.join(home, "pullbox-0.4.0.pbu"), binary=True) == b["good"],
       "scp -O into updates/ (pullbox-console -c \"scp -t updates/\") stores the bundle in ~/updates: %r" % err)
    refused = []
    for cmd in ("sh", "scp -t /etc", "scp -t ../.ssh", "scp -r -t updates/", "scp -t updates/x.sh",
                "scp -t updates/; reboot", "scp -f ../../etc/secrets.conf", "scp -f -t updates/",
                "scp -t 'updates/'", "/bin/sh -c id"):
        code, err = scp_sink(root, cmd, "x.pbu", b"x")
        if code == 0 or "only scp -O into ~/updates" not in err:
            refused.append("%s -> %d %s" % (cmd, code, err))
    ok(not refused and not os.path.exists(os.path.join(home, "x.pbu")),
       "any other command over SSH is refused (a shell, another folder, -r, a shell character, -f outside the home)"
       + ("; not refused: %s" % refused if refused else ""))


# ---- the walk ----
def open_item(con, choice, expect, timeout=60):
    ok(con.step("15", r"Choose \(1-4", 60) is not None and ("Running: %s in slot a" % RUNNING) in con.since(),
       "15: the slot status is shown (running version and slot, through the apply service)")
    return con.step(str(choice), expect, timeout)


def back(con):
    return c64.back_to_menu(con)


def pick_and_refuse(con, root, source_choice, name, words):
    before = len(installs(root))
    m = open_item(con, source_choice, r"Install which")
    num = re.search(r"(\d+)\s+%s \(" % re.escape(name), con.since()) if m else None
    shown = con.step(num.group(1) if num else "q", r"Not done: .*Nothing was installed", 60) if num else None
    ok(shown is not None and words in con.since() and len(installs(root)) == before,
       "15: %s is refused naming \"%s\"; the installer is never asked" % (name, words))
    back(con)


def walk(con, root, work, b):
    home = root.path("data/home/admin/updates")
    os.makedirs(home, exist_ok=True)
    for name in ("otherkey", "tampered", "truncated", "product", "older", "good"):
        with open(os.path.join(home, name + ".pbu"), "wb") as f:
            f.write(b[name])
    with open(os.path.join(home, "nospace.pbu"), "wb") as f:
        f.write(b["good"])
    ok(con.wait(MENU, 60) is not None, "the console shows the menu with 15 items")

    # ~/updates: every refusal
    pick_and_refuse(con, root, 1, "otherkey.pbu", "signature")
    pick_and_refuse(con, root, 1, "tampered.pbu", "tampered part")
    pick_and_refuse(con, root, 1, "truncated.pbu", "truncated")
    pick_and_refuse(con, root, 1, "product.pbu", "product")
    os.makedirs(root.path("data/update"), exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k,mode=0700", "pbupdui", root.path("data/update")], check=True)
    try:
        pick_and_refuse(con, root, 1, "good.pbu", "space")
    finally:
        subprocess.run(["umount", root.path("data/update")])
    # the installer's own refusal (it checks the slot and the boot partition)
    before = len(installs(root))
    open_item(con, 1, r"Install which")
    num = re.search(r"(\d+)\s+nospace\.pbu \(", con.since())
    shown = con.step(num.group(1) if num else "q", r"Not done: .*Nothing was installed", 60) if num else None
    ok(shown is not None and "The installer refused: space: the boot partition" in con.since() and
       len(installs(root)) == before,
       "15: the installer's refusal (space) is shown naming why, and that nothing was installed")
    back(con)

    # a downgrade: no, then yes
    open_item(con, 1, r"Install which")
    num = re.search(r"(\d+)\s+older\.pbu \(", con.since())
    con.step(num.group(1) if num else "q", r"Install the older version anyway", 60)
    ok(("0.0.9 is older than the running %s" % RUNNING) in con.since() and not installs(root),
       "15: an older bundle is refused as a downgrade and a separate confirmation is asked")
    ok(con.step("n", r"Nothing was installed") is not None and not installs(root), "15: answered no, nothing is installed")
    back(con)
    open_item(con, 1, r"Install which")
    num = re.search(r"(\d+)\s+older\.pbu \(", con.since())
    con.step(num.group(1) if num else "q", r"Install the older version anyway", 60)
    ok(con.step("y", r"Reboot now to try it\?", 60) is not None and
       "installed 0.0.9 in slot b; reboot to try it" in con.since() and
       installs(root)[-1:] == ["pullbox-update install --allow-downgrade %s/older.pbu" % home],
       "15: confirmed, the downgrade is installed with --allow-downgrade")
    ok(con.step("n", r"Reboot later") is not None and not c64.called(root, "reboot"), "15: no reboot when declined")
    back(con)

    # ~/updates: a good one, then reboot
    open_item(con, 1, r"Install which")
    num = re.search(r"(\d+)\s+good\.pbu \(", con.since())
    ok(con.step(num.group(1) if num else "q", r"Reboot now to try it\?", 60) is not None and
       installs(root)[-1:] == ["pullbox-update install %s/good.pbu" % home],
       "15: a bundle copied to ~/updates is verified and installed (no --allow-downgrade)")
    con.type("y")
    ok(until(lambda: c64.called(root, "reboot"), 30), "15: Reboot now reboots the appliance")
    back(con)

    # /data/updates
    with open(root.path("data/updates/pullbox-0.2.0.pbu"), "wb") as f:
        f.write(b["good"])
    open_item(con, 3, r"Install which")
    num = re.search(r"(\d+)\s+pullbox-0\.2\.0\.pbu \(", con.since())
    ok(con.step(num.group(1) if num else "q", r"Reboot now to try it\?", 60) is not None and
       installs(root)[-1:] == ["pullbox-update install %s/pullbox-0.2.0.pbu" % root.path("data/updates")],
       "15: a bundle in /data/updates is verified and installed")
    con.type("n")
    back(con)

    # a URL
    which = wget_for(root)
    if which is None:
        ok(False, "a wget to test the download with (the image build's BusyBox or the host's)")
        return
    site = os.path.join(work, "site")
    os.makedirs(site)
    with open(os.path.join(site, "pullbox-0.3.0.pbu"), "wb") as f:
        f.write(b["good"])
    with open(os.path.join(site, "bad.pbu"), "wb") as f:
        f.write(b["tampered"])
    srv = serve(site)
    base = "http://127.0.0.1:%d/" % srv.server_address[1]
    try:
        open_item(con, 2, r"URL of the bundle")
        ok(con.step("ftp://example.org/x.pbu", r"starts with http:// or https://") is not None,
           "15: a URL that is not http(s) is refused before anything runs")
        ok(con.step(base + "missing.pbu", r"Not downloaded: wget failed") is not None and
           not os.path.exists(os.path.join(home, "missing.pbu")) and not os.path.exists(os.path.join(home, ".download.part")),
           "15: a URL that answers 404 is reported; nothing is kept (%s wget)" % which)
        back(con)
        before = len(installs(root))
        open_item(con, 2, r"URL of the bundle")
        ok(con.step(base + "bad.pbu", r"Not done: .*Nothing was installed", 60) is not None and
           "tampered part" in con.since() and len(installs(root)) == before,
           "15: a downloaded bundle with a tampered part is refused; the installer is never asked")
        back(con)
        open_item(con, 2, r"URL of the bundle")
        ok(con.step(base + "pullbox-0.3.0.pbu", r"Reboot now to try it\?", 60) is not None and
           read(os.path.join(home, "pullbox-0.3.0.pbu"), binary=True) == b["good"] and
           installs(root)[-1:] == ["pullbox-update install %s/pullbox-0.3.0.pbu" % home],
           "15: a bundle fetched from an http URL lands in ~/updates byte for byte and is installed")
        con.type("n")
        back(con)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "pbupdui", home], check=True)
        try:
            open_item(con, 2, r"URL of the bundle")
            ok(con.step(base + "pullbox-0.3.0.pbu", r"Not downloaded: not enough space", 60) is not None and
               os.listdir(home) == [],
               "15: a download larger than the free space of ~/updates is refused; nothing is kept")
            back(con)
        finally:
            subprocess.run(["umount", home])
    finally:
        srv.shutdown()


def main():
    work = tempfile.mkdtemp(prefix="pb-conupd-")
    root = approot.AppRoot(os.path.join(work, "root"))
    con = None
    os.environ["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0"
    try:
        b = make_bundles(work)
        root.start()
        os.makedirs(root.path("usr/share/pullbox"), exist_ok=True)
        subprocess.run(["openssl", "pkey", "-in", os.path.join(work, "key.pem"), "-pubout", "-out",
                        root.path("usr/share/pullbox/update-key.pem")], check=True, timeout=30)
        stand_in(root)
        ok(root.submit("claim", {"admin-password-hash": crypt_hash("console-update-pw-1")})["ok"],
           "the appliance is claimed")
        con = Console(root.dir, "update", work)
        c64.SCREEN.append(con)
        check_scp(root, b)
        walk(con, root, work, b)
        con.type("q")
        ok(con.wait(r"CONSOLE-EXIT", 30) is not None and read(con.status).strip() == "CONSOLE-EXIT=0",
           "the console exits with 0")
        asan = [f for f in os.listdir(work) if f.startswith("asan-")]
        ok(not asan, "no sanitizer report from the console: %s" % asan)
    finally:
        if con:
            con.kill()
        root.stop()
        note("work folder: " + work)
    done()


if __name__ == "__main__":
    main()
