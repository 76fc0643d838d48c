#!/usr/bin/env python3
"""Update bundles end to end with the real scripts and the real verifier:
signing-key.sh makes and keeps a key (0600, public half rewritten only when
it changes), mkbundle.sh signs small bundles with a throw-away key (never
the builder's), two builds give the same bytes, and pullbox-update-verify
accepts a good bundle (from a file and from a pipe) and prints its manifest
with offsets that point at the parts, and refuses, naming what and why and
printing nothing on stdout: another key, a flipped byte in a part, in the
manifest or in the signature, truncations at every stage (file and pipe),
trailing bytes, another product, a downgrade (unless --allow-downgrade), a
running version below min-from, and a target without room for the parts (a
small tmpfs in a private mount namespace). Nothing under the settings root
or next to the bundles changes while it runs."""
import hashlib
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from pbtest import ROOT, done, note, ok
from approot import config_ui_binary

TOOL = config_ui_binary("pullbox-update-verify")
SCRIPTS = os.path.join(ROOT, "appliance", "scripts")
SDE = "1700000000"


def run(args, env=None, feed=None):
    """feed: bytes written to the program through a pipe (no length to fstat)."""
    e = dict(os.environ, SOURCE_DATE_EPOCH=SDE)
    e.update(env or {})
    return subprocess.run(args, capture_output=True, env=e, input=feed, timeout=60)


def mkbundle(out, key, version="0.2.0", min_from="0.1.0", product="pullbox", parts=None):
    r = run([os.path.join(SCRIPTS, "mkbundle.sh"), out, product, version, min_from, key] +
            ["%s=%s" % p for p in parts])
    if r.returncode != 0:
        note(r.stderr.decode())
    return r.returncode == 0


def verify(path, pub, *opts, running="0.1.0", feed=None, env=None):
    args = [TOOL] + (["--key", pub] if pub else []) + (["--running", running] if running else [])
    r = run(args + list(opts) + [path], env=env, feed=feed)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def refused(res, what, words=""):
    code, out, err = res
    good = code == 1 and out == "" and ("refused: %s:" % what) in err and words in err
    if not good:
        note("expected refusal %r %r, got %d\nstdout: %s\nstderr: %s" % (what, words, code, out, err))
    return good


def snapshot(*dirs):
    seen = {}
    for d in dirs:
        for dirpath, dirnames, names in os.walk(d):
            for n in names + dirnames:
                p = os.path.join(dirpath, n)
                st = os.lstat(p)
                h = ""
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as f:
                        h = hashlib.sha256(f.read()).hexdigest()
                seen[p] = (st.st_mode, st.st_size, st.st_mtime_ns, h)
    return seen


def main():
    if not os.path.exists(TOOL):
        ok(False, "%s is built (make config-ui)" % TOOL)
        done()
    tmp = tempfile.mkdtemp(prefix="pbbundle-")
    home = os.path.join(tmp, "home")
    os.makedirs(home)

    # ---- the builder's key: made on first use, outside the tree, 0600 ----
    pub = os.path.join(tmp, "update-key.pem")
    r = run([os.path.join(SCRIPTS, "signing-key.sh"), pub], env={"HOME": home, "PULLBOX_SIGNING_KEY": ""})
    key = r.stdout.decode().strip()
    ok(r.returncode == 0 and key == os.path.join(home, ".config/pullbox/signing-key.pem"),
       "signing-key.sh makes a key under ~/.config/pullbox on first use")
    ok(os.path.exists(key) and stat.S_IMODE(os.stat(key).st_mode) == 0o600 and
       stat.S_IMODE(os.stat(os.path.dirname(key)).st_mode) == 0o700, "the key is 0600 in a 0700 folder")
    ok(open(pub).read().startswith("-----BEGIN PUBLIC KEY-----"), "its public half is written")
    os.utime(pub, (1, 1))
    r = run([os.path.join(SCRIPTS, "signing-key.sh"), pub], env={"HOME": home, "PULLBOX_SIGNING_KEY": ""})
    ok(r.returncode == 0 and r.stdout.decode().strip() == key and os.stat(pub).st_mtime == 1,
       "a second run keeps the key and leaves the unchanged public half alone (no squashfs rebuild)")
    os.chmod(key, 0o644)
    r = run([os.path.join(SCRIPTS, "signing-key.sh"), pub], env={"HOME": home, "PULLBOX_SIGNING_KEY": ""})
    ok(r.returncode != 0 and b"chmod 0600" in r.stderr, "a key readable by others is refused")
    os.chmod(key, 0o600)
    r = run([os.path.join(SCRIPTS, "signing-key.sh"), pub],
            env={"HOME": home, "PULLBOX_SIGNING_KEY": os.path.join(tmp, "missing.pem")})
    ok(r.returncode != 0 and b"missing.pem: no such file" in r.stderr and os.stat(pub).st_mtime == 1,
       "a PULLBOX_SIGNING_KEY that does not exist is an error, not a new key")

    # a release key elsewhere, and another one the appliance does not trust
    other = os.path.join(tmp, "other.pem")
    other_pub = os.path.join(tmp, "other-pub.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", other], check=True)
    os.chmod(other, 0o600)
    r = run([os.path.join(SCRIPTS, "signing-key.sh"), other_pub], env={"HOME": home, "PULLBOX_SIGNING_KEY": other})
    ok(r.returncode == 0 and r.stdout.decode().strip() == other and open(other_pub).read() != open(pub).read(),
       "PULLBOX_SIGNING_KEY names another key; its public half differs")

    # ---- parts and bundles ----
    bundles = os.path.join(tmp, "bundles")
    os.makedirs(bundles)
    parts = []
    for name, size in (("system.squashfs", 300 * 1024 + 7), ("vmlinuz", 70000), ("initrd.img", 5)):
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(hashlib.sha256(name.encode()).digest() * (size // 32) + b"x" * (size % 32))
        parts.append((name, p))
    good = os.path.join(bundles, "good.pbu")
    ok(mkbundle(good, key, parts=parts), "mkbundle.sh writes a bundle")
    again = os.path.join(tmp, "again.pbu")
    mkbundle(again, key, parts=parts)
    data = open(good, "rb").read()
    ok(data == open(again, "rb").read(), "two builds with one key give identical bytes")
    os.unlink(again)

    code, out, err = verify(good, pub)
    ok(code == 0 and err == "", "the good bundle is accepted")
    kv = dict(l.split("=", 1) for l in out.splitlines())
    ok(kv.get("product") == "pullbox" and kv.get("version") == "0.2.0" and kv.get("min-from") == "0.1.0"
       and kv.get("build-date") == SDE and kv.get("parts") == "3", "it prints the manifest as key=value")
    placed = True
    for i, (name, p) in enumerate(parts, 1):
        body = open(p, "rb").read()
        off, size = int(kv.get("part.%d.offset" % i, -1)), int(kv.get("part.%d.size" % i, -1))
        placed &= (kv.get("part.%d.name" % i) == name and size == len(body) and
                   kv.get("part.%d.sha256" % i) == hashlib.sha256(body).hexdigest() and
                   data[off:off + size] == body)
    ok(placed, "each part's name, size, SHA-256 and offset point at its bytes in the bundle")
    code, out2, _ = verify("-", pub, feed=data)
    ok(code == 0 and out2 == out, "the same from a pipe (streamed, no length known in advance)")

    # ---- refusals; nothing may change meanwhile ----
    approot = os.path.join(tmp, "root")
    os.makedirs(os.path.join(approot, "usr/share/pullbox"))
    os.makedirs(os.path.join(approot, "etc"))
    with open(os.path.join(approot, "usr/share/pullbox/update-key.pem"), "w") as f:
        f.write(open(pub).read())
    with open(os.path.join(approot, "etc/pullbox-version"), "w") as f:
        f.write("0.1.0\n")
    before = snapshot(bundles, approot)
    rootenv = {"PULLBOX_ROOT": approot}

    code, out, _ = verify(good, None, running=None, env=rootenv)
    ok(code == 0 and "version=0.2.0" in out, "by default the key and the running version come from the root")
    ok(refused(verify(good, other_pub), "signature", other_pub), "another key: refused (signature), naming the key")

    def variant(name, blob):
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(blob)
        return p

    hlen = data.index(b"\n") + 1
    mlen = int(data[:hlen].split()[2])
    sig_at = hlen + mlen
    first = sig_at + 64
    flip = lambda at: data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
    ok(refused(verify(variant("p1.pbu", flip(first)), pub), "tampered part", "system.squashfs"),
       "a flipped first byte of the first part: refused, naming the part")
    ok(refused(verify(variant("p2.pbu", flip(first + 300 * 1024)), pub), "tampered part", "system.squashfs"),
       "a flipped byte deep in the first part")
    ok(refused(verify(variant("p3.pbu", flip(len(data) - 1)), pub), "tampered part", "initrd.img"),
       "a flipped last byte of the last part: refused, naming initrd.img")
    v = data.index(b"version=0.2.0") + len("version=0.")
    ok(refused(verify(variant("m1.pbu", data[:v] + b"3" + data[v + 1:]), pub), "signature"),
       "the manifest's version changed (still a valid manifest): refused (signature)")
    h = data.index(b"part=vmlinuz 70000 ") + len("part=vmlinuz 70000 ")
    c = b"1" if data[h:h + 1] != b"1" else b"2"
    ok(refused(verify(variant("m2.pbu", data[:h] + c + data[h + 1:]), pub), "signature"),
       "a part's hash changed in the manifest: refused (signature)")
    ok(refused(verify(variant("s1.pbu", flip(sig_at + 10)), pub), "signature"), "a flipped signature byte")
    ok(refused(verify(variant("m3.pbu", flip(hlen + 2)), pub), "framing"),
       "a flipped byte in the manifest that breaks it: refused (framing)")

    cuts = {"empty file": 0, "inside the header": 9, "inside the manifest": hlen + 40,
            "inside the signature": sig_at + 32, "at the first part": first,
            "inside the first part": first + 1000, "inside the second part": first + 300 * 1024 + 100,
            "one byte short": len(data) - 1}
    for label, cut in cuts.items():
        p = variant("cut.pbu", data[:cut])
        ok(refused(verify(p, pub), "truncated"), "truncated %s (%d bytes): refused" % (label, cut))
    for label in ("inside the manifest", "inside the first part", "one byte short"):
        ok(refused(verify("-", pub, feed=data[:cuts[label]]), "truncated"),
           "truncated %s, from a pipe: refused" % label)
    ok(refused(verify(variant("long.pbu", data + b"\0"), pub), "framing", "after the last part"),
       "a byte after the last part: refused")
    ok(refused(verify("-", pub, feed=data + b"\0"), "framing", "after the last part"), "the same from a pipe")
    ok(refused(verify(variant("zip.pbu", b"PK\3\4" + data), pub), "framing", "not a Pullbox"),
       "something else: refused (framing)")

    otherbox = os.path.join(tmp, "otherbox.pbu")
    mkbundle(otherbox, key, product="otherbox", parts=parts)
    ok(refused(verify(otherbox, pub), "product", "otherbox"), "a bundle for another product, signed by our key")

    ok(refused(verify(good, pub, running="0.3.0"), "downgrade", "--allow-downgrade"),
       "0.2.0 over a running 0.3.0: refused as a downgrade")
    code, out, _ = verify(good, pub, "--allow-downgrade", running="0.3.0")
    ok(code == 0 and "version=0.2.0" in out, "the same with --allow-downgrade: accepted")
    ok(refused(verify(good, pub, running="0.10.0"), "downgrade"), "0.2.0 over 0.10.0 (numbers, not text)")
    code, _, _ = verify(good, pub, running="0.2.0")
    ok(code == 0, "the running version again: accepted (a reinstall)")
    code, _, _ = verify(good, pub, running="0.2.0-rc.1")
    ok(code == 0, "0.2.0 over its release candidate: accepted")
    ok(refused(verify(good, pub, running="0.0.9"), "version", "0.1.0 or later"),
       "a running version below min-from: refused")
    ok(refused(verify(good, pub, "--allow-downgrade", running="0.0.9"), "version"),
       "--allow-downgrade does not lift min-from")

    # room for the parts: the bundle's own folder has it, a 64 KiB tmpfs has not
    code, _, _ = verify(good, pub, "--space", tmp)
    ok(code == 0, "--space on a file system with room: accepted")
    small = os.path.join(tmp, "small")
    os.makedirs(small)
    r = subprocess.run(["unshare", "-m", "sh", "-c",
                        'mount -t tmpfs -o size=64k pbbundle "$1" && exec "$2" --key "$3" --running 0.1.0 '
                        '--space "$1" "$4"', "sh", small, TOOL, pub, good], capture_output=True, timeout=60)
    ok(refused((r.returncode, r.stdout.decode(), r.stderr.decode()), "space", "the parts need %d" %
               sum(os.path.getsize(p) for _, p in parts)), "--space on a 64 KiB tmpfs: refused, with both figures")

    ok(snapshot(bundles, approot) == before, "nothing under the root or next to the bundle changed")

    # ---- usage and system errors ----
    ok(verify(good, pub, "--bogus")[0] == 100, "an unknown option: exit 100")
    ok(verify(good, pub, running="1.0")[0] == 100, "--running that is not a version: exit 100")
    code, _, err = verify(good, os.path.join(tmp, "nokey.pem"))
    ok(code == 111 and "nokey.pem" in err, "a missing key: exit 111, naming it")
    code, _, err = verify(good, key)
    ok(code == 111 and "public key" in err, "a private key file where the public one belongs: exit 111")
    code, _, err = verify(os.path.join(tmp, "none.pbu"), pub)
    ok(code == 111 and "none.pbu" in err, "a missing bundle: exit 111")

    subprocess.run(["rm", "-rf", tmp])
    done()


main()
