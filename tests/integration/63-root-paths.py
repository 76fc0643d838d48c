#!/usr/bin/env python3
"""Root never works through a path another user could have planted.

The apply service and the first boot run as root in folders other users write
(the admin's home; on older releases the TLS folder belonged to pullbox). Here
"another user" is nobody (uid 65534): what it could leave behind is put in place
by hand, then the real programs run:

  - a rendered file someone else came to own (network.conf) is root's again after
    the next change, even when its text stays the same;
  - the admin's .ssh replaced by a link to another folder: ssh-key-add writes into
    a real .ssh (root:admin 0750 on the appliance), never through the link;
  - pullbox-apply --fix-owners (first thing at boot) takes back the TLS folder and
    removes a link and a hard link planted in it, without touching their targets;
  - pullboxd --make-cert does not write through a link at the temporary name it
    used to pick (<path>.tmp<pid>);
  - the network and ntpd services parse their rendered files (the real lines of
    their run scripts): a shell line in network.conf or ntp.conf never runs.
"""
import base64
import os
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("PULLBOX_ROOT_DIR") or os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

import approot  # noqa: E402

approot.in_private_netns("PULLBOX_63_NETNS")

from pbtest import done, note, ok  # noqa: E402
from approot import AppRoot  # noqa: E402

NOBODY = 65534


def owner(path):
    st = os.lstat(path)
    return st.st_uid, stat.S_IMODE(st.st_mode)


def rendered_files(root):
    st = os.stat(root.path("data/etc/network.conf"))
    ok(st.st_uid == 0, "network.conf is root's after the first render")
    os.chown(root.path("data/etc/network.conf"), NOBODY, NOBODY)
    res = root.submit("settings", {"network.ntp": "ntp1.example.org"})
    ok(res["ok"] and "trial" not in res["message"],
       "a change that leaves network.conf's text as it is: no network trial (%s)" % res["message"])
    st = os.stat(root.path("data/etc/network.conf"))
    ok(st.st_uid == 0 and st.st_gid == 0 and stat.S_IMODE(st.st_mode) == 0o644,
       "network.conf that nobody came to own is root's 0644 again (uid %d, %o)"
       % (st.st_uid, stat.S_IMODE(st.st_mode)))
    os.chown(root.path("data/etc/ntp.conf"), NOBODY, NOBODY)
    res = root.submit("settings", {"network.ntp": "ntp2.example.org"})
    st = os.stat(root.path("data/etc/ntp.conf"))
    ok(res["ok"] and st.st_uid == 0 and "ntp2.example.org" in root.read("data/etc/ntp.conf"),
       "ntp.conf rewritten with the change is root's (uid %d), not the old owner's" % st.st_uid)


def ssh_link(root):
    home = root.path("data/home/admin")
    victim = root.path("victim")
    os.makedirs(victim, exist_ok=True)
    os.chown(home, NOBODY, NOBODY)  # the admin's home: another user writes in it
    shutil.rmtree(os.path.join(home, ".ssh"), ignore_errors=True)
    os.symlink(victim, os.path.join(home, ".ssh"))
    blob = (11).to_bytes(4, "big") + b"ssh-ed25519" + (32).to_bytes(4, "big") + os.urandom(32)
    key = "ssh-ed25519 %s admin@laptop" % base64.b64encode(blob).decode()
    res = root.submit("ssh-key-add", {"key": key})
    note("ssh-key-add: %s" % res["message"])
    ok(os.listdir(victim) == [], "nothing was written through the link into the folder it names (%s)"
       % os.listdir(victim))
    ok(owner(victim) == (0, 0o755), "that folder kept its owner and mode (%s)" % (owner(victim),))
    ssh = os.path.join(home, ".ssh")
    ok(not os.path.islink(ssh) and os.path.isdir(ssh) and owner(ssh) == (0, 0o750),
       ".ssh is a real folder again, root's, 0750 (%s)" % (owner(ssh) if os.path.exists(ssh) else None,))
    ak = os.path.join(ssh, "authorized_keys")
    ok(res["ok"] and os.path.isfile(ak) and open(ak).read() == key + "\n" and owner(ak) == (0, 0o640),
       "the key is in .ssh/authorized_keys, root's 0640")


def fix_owners(root):
    tls = root.path("data/pullbox/tls")
    shadow = root.path("data/etc/shadow")
    os.chown(tls, NOBODY, NOBODY)  # an older release: the TLS folder was pullbox's
    os.chmod(tls, 0o750)
    os.unlink(os.path.join(tls, "cert.pem"))
    os.symlink(shadow, os.path.join(tls, "cert.pem"))
    os.link(shadow, os.path.join(tls, "chain.pem"))
    os.chown(os.path.join(tls, "key.pem"), NOBODY, NOBODY)
    before = owner(shadow), open(shadow).read()
    r = subprocess.run([approot.config_ui_binary("pullbox-apply"), "--fix-owners"], env=root.env(),
                       capture_output=True, text=True, timeout=60)
    ok(r.returncode == 0, "pullbox-apply --fix-owners (%s)" % (r.stdout + r.stderr).strip()[-300:])
    ok((owner(shadow), open(shadow).read()) == before and os.stat(shadow).st_nlink == 1,
       "shadow: untouched, still 0600, its hard link in the TLS folder gone")
    ok(owner(tls) == (0, 0o750), "the TLS folder is root's 0750 (%s)" % (owner(tls),))
    ok(not os.path.lexists(os.path.join(tls, "cert.pem")) and not os.path.lexists(os.path.join(tls, "chain.pem")),
       "the link and the hard link planted in it are removed, not followed")
    ok(owner(os.path.join(tls, "key.pem")) == (0, 0o640), "key.pem is root's 0640")


def make_cert(root):
    d = tempfile.mkdtemp(prefix="pullbox-63-cert-")
    victim = os.path.join(d, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.chmod(victim, 0o600)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child waits until the links are in place, then becomes pullboxd
        os.close(wr)
        os.read(rd, 1)
        os.execv(approot.pullboxd_binary(), [approot.pullboxd_binary(), "--make-cert", cert, key, "x.example"])
    os.close(rd)
    for p in (cert, key):  # the name the old code picked: <path>.tmp<pid>
        os.symlink(victim, "%s.tmp%d" % (p, pid))
    os.write(wr, b"go")
    os.close(wr)
    _, status = os.waitpid(pid, 0)
    ok(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "pullboxd --make-cert with links at <path>.tmp<pid>")
    ok(open(victim).read() == "precious\n" and owner(victim) == (0, 0o600),
       "the file the links name is untouched (no PEM written through them)")
    ok(owner(key)[1] == 0o600 and owner(cert)[1] == 0o644 and "PRIVATE KEY" in open(key).read(),
       "key.pem 0600 and cert.pem 0644 are real files")
    shutil.rmtree(d, ignore_errors=True)


def run_script_part(svc, first, stop, conf, path, show):
    """The lines of rootfs/etc/sv/<svc>/run from the one starting with first up to the one
    starting with stop, reading conf from path, then show: what the service makes of it."""
    lines = open(os.path.join(ROOT, "rootfs/etc/sv", svc, "run")).read().splitlines()
    a = next(i for i, l in enumerate(lines) if l.startswith(first))
    b = next(i for i, l in enumerate(lines) if i > a and l.startswith(stop))
    script = "\n".join(lines[a:b]).replace("/data/etc/" + conf, path) + "\n" + show + "\n"
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10).stdout


def services_parse():
    d = tempfile.mkdtemp(prefix="pullbox-63-conf-")
    marker = os.path.join(d, "ran")
    conf = os.path.join(d, "network.conf")
    with open(conf, "w") as f:
        f.write('# rendered\nMODE=static\nADDRESS=192.0.2.10/24\nGATEWAY=192.0.2.1\nDNS="192.0.2.1 192.0.2.2"\n'
                'MODE=static; touch %s\nX=$(touch %s)\ntouch %s\n' % (marker, marker, marker))
    out = run_script_part("network", "MODE=dhcp IFACE=", 'if [ -z "$IFACE" ]', "network.conf", conf,
                          'echo "[$MODE][$ADDRESS][$GATEWAY][$DNS]"')
    ok(not os.path.exists(marker), "the network service parses network.conf: a shell line in it does not run")
    ok("[static][192.0.2.10/24][192.0.2.1][192.0.2.1 192.0.2.2]" in out, "and it reads the values (%s)" % out.strip())
    conf = os.path.join(d, "ntp.conf")
    with open(conf, "w") as f:
        f.write('SERVERS="a.example b.example"\ntouch %s\nSERVERS="$(touch %s)"\n' % (marker, marker))
    out = run_script_part("ntpd", "SERVERS=pool.ntp.org", "args=", "ntp.conf", conf, 'echo "[$SERVERS]"')
    ok(not os.path.exists(marker) and "[a.example b.example]" in out,
       "the ntpd service parses ntp.conf the same way (%s)" % out.strip())
    shutil.rmtree(d, ignore_errors=True)


def main():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    approot.build_apply_san()
    tmp = tempfile.mkdtemp(prefix="pullbox-63-")
    root = AppRoot(tmp, apply_env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0"})
    try:
        root.start(wait=90)
        rendered_files(root)
        ssh_link(root)
        fix_owners(root)
        make_cert(root)
        services_parse()
    finally:
        root.stop()
        log = root.log_tail("pullbox-apply", 100000)
        ok("AddressSanitizer" not in log and "runtime error" not in log and "LeakSanitizer" not in log,
           "pullbox-apply's log shows no sanitizer report")
        shutil.rmtree(tmp, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()
