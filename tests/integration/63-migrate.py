#!/usr/bin/env python3
"""The data partition's schema and its migrations (rootfs/usr/sbin/pullbox-migrate).

The tree is the data partition of a real Pullbox 0.1.0 appliance
(tests/image/fixtures/data-0.1.0.ext4.xz: claimed, configured, with undelivered
journal messages), copied out with debugfs, owners and modes kept. The real
pullbox-migrate and its steps run on it as root with a temporary root
(PULLBOX_ROOT), with the pullbox-apply this tree builds:

  - 0.1.0's data (no schema file) is schema 1: the settings are kept in
    data/migrate/schema-1/ first; a step that fails leaves the schema at 1
    and the next run resumes; then it is migrated to schema 2: the schema file
    says 2, the wizard's old sessions are gone (a link planted among them is
    removed, not followed), the TLS folder and the admin's .ssh are root's,
    the services' files are rendered in today's formats from 0.1.0's settings
    and keys, which are unchanged, and the journal is untouched;
  - a second run does nothing (no output, no file changed);
  - a system older than the data (a rollback) never migrates down: with the
    copy of its schema it puts that copy back and says so; without one it
    changes nothing and says so; either way exit 2;
  - a new data partition gets the current schema; a schema file holding
    anything but a number stops the migration (exit 1, nothing changed).
"""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("PULLBOX_ROOT_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "lib"))

from pbtest import done, note, ok  # noqa: E402

OUT = os.environ.get("O", os.path.join(ROOT, "out"))
FIXTURES = os.path.join(ROOT, "tests", "image", "fixtures")
MIGRATE = os.path.join(ROOT, "rootfs", "usr", "sbin", "pullbox-migrate")
STEPS = os.path.join(ROOT, "rootfs", "usr", "lib", "pullbox", "migrate")


def apply_binary():
    for d in ("config-ui-san", "config-ui"):
        p = os.path.join(OUT, d, "pullbox-apply")
        if os.path.exists(p):
            return p
    return None


def unpack_fixture(work):
    """The fixture's filesystem as the tree work/root/data (owners and modes kept)."""
    ext4 = os.path.join(work, "data.ext4")
    with open(ext4, "wb") as f:
        subprocess.run(["xz", "-dc", os.path.join(FIXTURES, "data-0.1.0.ext4.xz")], stdout=f, check=True)
    data = os.path.join(work, "root", "data")
    os.makedirs(data)
    top = subprocess.run(["debugfs", "-R", "ls -p /", ext4], capture_output=True, text=True).stdout
    names = [l.split("/")[5] for l in top.splitlines() if l.count("/") >= 6]
    names = [n for n in names if n not in (".", "..", "lost+found")]
    for n in names:
        subprocess.run(["debugfs", "-R", "rdump /%s %s" % (n, data), ext4], capture_output=True, check=True)
    return os.path.join(work, "root")


def tree_state(root):
    """Every path under root with its type, owner, mode and content hash."""
    state = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            h = None
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                h = os.readlink(p)
            state[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), st.st_uid, st.st_gid,
                                               stat.S_IMODE(st.st_mode), h)
    return state


def run(root, steps=STEPS):
    env = dict(os.environ, PULLBOX_ROOT=root, PULLBOX_MIGRATE_STEPS=steps, PULLBOX_APPLY=apply_binary())
    r = subprocess.run(["sh", MIGRATE], env=env, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def read(root, rel):
    with open(os.path.join(root, rel)) as f:
        return f.read()


def owner_mode(root, rel):
    st = os.lstat(os.path.join(root, rel))
    return stat.S_IFMT(st.st_mode), st.st_uid, stat.S_IMODE(st.st_mode)


def migrate_010(root, facts):
    ok(os.path.isfile(os.path.join(root, "data/etc/firstboot-done"))
       and not os.path.exists(os.path.join(root, "data/etc/schema")),
       "the fixture is 0.1.0's data: a first boot done, no schema file")
    before = {rel: read(root, rel) for rel in ("data/etc/settings.conf", "data/etc/secrets.conf",
                                               "data/pullbox/pullbox.conf", "data/etc/shadow")}
    journal = {k: v for k, v in tree_state(root).items() if k.startswith("data/pullbox/journal")}
    victim = os.path.join(root, "victim")
    os.makedirs(victim)
    with open(os.path.join(victim, "keep"), "w") as f:
        f.write("not www's to remove\n")
    state = os.path.join(root, "data/config-ui/state")
    ok(os.path.isdir(state), "0.1.0 kept the wizard's state on the data partition (config-ui/state)")
    os.symlink(victim, os.path.join(state, "planted"))
    os.chown(os.path.join(state, "planted"), 33, 33, follow_symlinks=False)

    broken = os.path.join(os.path.dirname(root), "steps-broken")
    os.makedirs(broken)
    with open(os.path.join(broken, "to-2"), "w") as f:
        f.write('echo "half done" >"$1/etc/half-done"\necho "step failed" >&2\nexit 1\n')
    rc, out = run(root, broken)
    ok(rc == 1 and "migrating the data partition to schema 2 failed: it stays at schema 1" in out
       and "step failed" in out and not os.path.exists(os.path.join(root, "data/etc/schema"))
       and os.path.isdir(os.path.join(root, "data/migrate/schema-1")),
       "a step that fails: said with its output, the schema stays 1, the copy is kept (exit %d)" % rc)
    os.unlink(os.path.join(root, "data/etc/half-done"))

    rc, out = run(root)
    note(out.strip().replace("\n", " | "))
    ok(rc == 0 and "kept the settings" not in out and "data partition migrated to schema 2" in out,
       "the next run migrates 0.1.0's data to schema 2, with the copy made before the failed step (exit %d)" % rc)
    ok(read(root, "data/etc/schema") == "2\n" and owner_mode(root, "data/etc/schema") == (stat.S_IFREG, 0, 0o644),
       "data/etc/schema says 2, root's 0644")
    copy = "data/migrate/schema-1"
    ok(owner_mode(root, "data/migrate")[1:] == (0, 0o700) and
       all(read(root, rel.replace("data/", copy + "/", 1)) == text for rel, text in before.items()),
       "the settings, secrets, shadow and pullbox.conf of schema 1 are kept as they were (root's, 0700)")
    ok(not os.path.exists(state), "the old wizard sessions are gone from the data partition")
    ok(os.path.isfile(os.path.join(victim, "keep")), "a link planted among them was removed, not followed")
    ok(read(root, "data/etc/settings.conf") == before["data/etc/settings.conf"]
       and read(root, "data/etc/secrets.conf") == before["data/etc/secrets.conf"],
       "settings.conf and secrets.conf are 0.1.0's, byte for byte (0.2.0 reads them as they are)")
    ok(owner_mode(root, "data/pullbox/tls") == (stat.S_IFDIR, 0, 0o750)
       and owner_mode(root, "data/pullbox/tls/cert.pem") == (stat.S_IFREG, 0, 0o640)
       and owner_mode(root, "data/pullbox/tls/key.pem") == (stat.S_IFREG, 0, 0o640),
       "the TLS folder is root's 0750, its files root's 0640 (0.1.0: pullbox's)")
    ok(owner_mode(root, "data/home/admin/.ssh") == (stat.S_IFDIR, 0, 0o750)
       and owner_mode(root, "data/home/admin/.ssh/authorized_keys") == (stat.S_IFREG, 0, 0o640)
       and facts["admin-ssh-key"] in read(root, "data/home/admin/.ssh/authorized_keys"),
       "the admin's .ssh and authorized_keys are root's and hold the admin's key")
    conf = read(root, "data/pullbox/pullbox.conf")
    ok("signature-key = %s\n" % facts["signature-key"] in conf and "signature-algorithm = sha256\n" in conf
       and "journal-path = " in conf, "pullbox.conf is rendered with 0.1.0's key, algorithm and journal")
    fw = read(root, "data/etc/firewall.conf")
    ok('PUBLISHERS="%s"' % facts["publishers"] in fw and "SUBSCRIBE_CONN_PER_SOURCE=5000" in fw,
       "firewall.conf: 0.1.0's publishers and today's per-source limits")
    ok(read(root, "data/etc/dropbear.conf").strip().endswith("PASSWORD_LOGIN=yes"),
       "dropbear.conf (new in 0.2.0): password logins stay on")
    after = {k: v for k, v in tree_state(root).items() if k.startswith("data/pullbox/journal")}
    ok(journal and after == journal, "the journal (%d entries) is untouched" % len(journal))

    snap = tree_state(root)
    rc, out = run(root)
    ok(rc == 0 and out == "" and tree_state(root) == snap, "a second run does nothing (exit %d, %r)" % (rc, out))


def rollback(root, work):
    """A later step (to-3 here) migrates on; then the system of schema 2 boots the data."""
    future = os.path.join(work, "steps-3")
    shutil.copytree(STEPS, future)
    with open(os.path.join(future, "to-3"), "w") as f:
        f.write('printf "future.key = 1\\n" >>"$1/etc/settings.conf"\n')
    settings2 = read(root, "data/etc/settings.conf")
    rc, out = run(root, future)
    ok(rc == 0 and read(root, "data/etc/schema") == "3\n" and "future.key" in read(root, "data/etc/settings.conf")
       and os.path.isdir(os.path.join(root, "data/migrate/schema-2")),
       "a newer system migrates 2 -> 3 and keeps schema 2's copy")
    rc, out = run(root)
    note(out.strip())
    ok(rc == 2 and out.startswith("WARNING: the data partition was at schema 3, newer than this system's (2)"),
       "the older system says the data is newer (exit %d)" % rc)
    ok(read(root, "data/etc/settings.conf") == settings2 and read(root, "data/etc/schema") == "2\n"
       and not os.path.exists(os.path.join(root, "data/migrate/schema-2")),
       "... and puts schema 2's copy back in force")
    ok("future.key" in read(root, "data/migrate/schema-3-set-aside/etc/settings.conf"),
       "... keeping the newer settings in data/migrate/schema-3-set-aside")
    env = dict(os.environ, PULLBOX_ROOT=root)
    r = subprocess.run([apply_binary(), "--render"], env=env, capture_output=True, text=True)
    ok(r.returncode == 0, "the restored settings render again (pullbox-apply --render: %s)" % r.stderr.strip())
    for text, want_rc, said, what in (
            ("7\n", 2, "schema 7, newer than this system's (2), and holds no copy",
             "newer data without a copy of this schema: said, nothing changed"),
            ("2; reboot\n", 1, "holds no schema number", "a schema file that is not a number: nothing migrated")):
        with open(os.path.join(root, "data/etc/schema"), "w") as f:
            f.write(text)
        snap = tree_state(root)
        rc, out = run(root)
        ok(rc == want_rc and said in out and tree_state(root) == snap, "%s (exit %d)" % (what, rc))


def fresh(work):
    root = os.path.join(work, "fresh")
    os.makedirs(os.path.join(root, "data"))
    rc, out = run(root)
    ok(rc == 0 and out.strip() == "new data partition: schema 2" and read(root, "data/etc/schema") == "2\n"
       and not os.path.exists(os.path.join(root, "data/migrate")),
       "a new data partition gets schema 2, nothing to keep (%r)" % out)


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (the fixture's owners)")
        return
    for tool in ("debugfs", "xz"):
        if not shutil.which(tool):
            print("1..0 # SKIP %s is not installed" % tool)
            return
    if apply_binary() is None:
        print("1..0 # SKIP pullbox-apply is not built (make config-ui)")
        return
    with open(os.path.join(FIXTURES, "data-0.1.0.json")) as f:
        facts = json.load(f)
    work = tempfile.mkdtemp(prefix="pullbox-63-migrate-")
    try:
        root = unpack_fixture(work)
        migrate_010(root, facts)
        rollback(root, work)
        fresh(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    done()


main()
