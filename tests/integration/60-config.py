#!/usr/bin/env python3
"""Command line, config validation, SIGHUP reload (key rotation, broken
config), SIGTERM shutdown and the `user` key."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, Poll, ok, note, done, new_id, sign, http, binary,  # noqa: E402
                    publish_text, text_frames, wait_for, connect, ROOT)

MAGIC_EXPIRES = "Thu, 01 Jan 1973 11:11:01 GMT"
KEY = "0123456789abcdef0123456789abcdef"


def run(args, timeout=10):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    r = subprocess.run([binary()] + args, capture_output=True, text=True, timeout=timeout, env=env)
    return r.returncode, r.stdout, r.stderr


def conf_file(lines):
    d = tempfile.mkdtemp(prefix="pullbox-conf-")
    path = os.path.join(d, "pullbox.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


BASE = ["listen-subscribe = 127.0.0.1:0", "listen-publish = 127.0.0.1:0", "signature-key = " + KEY]

# ---- --version, --check-config ----
code, out, err = run(["--version"])
version = open(os.path.join(ROOT, "VERSION")).read().strip()
ok(code == 0 and out.strip() == "pullboxd " + version, "--version prints pullboxd %s (%r)" % (version, out))
path = conf_file(BASE + ["# a comment", "", "longpoll-timeout = 40"])
code, out, err = run(["--check-config", "-c", path])
ok(code == 0 and "configuration OK" in out, "--check-config on a good config: OK, exit 0 (%d %r)" % (code, out + err))
code, out, err = run(["--print-config"])
ok(code == 0 and "longpoll-timeout = 40" in out and "signature-key = \n" in out,
   "--print-config prints the defaults")

# ---- invalid values: exit non-zero naming the key and the accepted range ----
cases = [
    (["longpoll-timeout = 0"], ["longpoll-timeout", "1 to 3600"]),
    (["longpoll-timeout = 3601"], ["longpoll-timeout", "1 to 3600"]),
    (["longpoll-timeout = 10s"], ["longpoll-timeout", "1 to 3600"]),
    (["header-timeout = "], ["header-timeout", "1 to 600"]),
    (["max-header-size = 100"], ["max-header-size", "1024 to 1048576"]),
    (["signature-algorithm = md5"], ["signature-algorithm", "sha1", "sha256"]),
    (["log-level = verbose"], ["log-level", "error", "debug"]),
    (["no-such-key = 1"], ["no-such-key"]),
    (["path-subscribe = bitrix/sub/"], ["path-subscribe"]),
    (["just some words"], ["key = value"]),
    (["signature-key-previous = short"], ["signature-key-previous", "16"]),
]
for extra, words in cases:
    path = conf_file(BASE + extra)
    for args in (["--check-config", "-c", path], ["-c", path]):
        code, out, err = run(args)
        ok(code != 0 and all(w in err for w in words),
           "%s with %r: exit %d, message names %r (%r)" % (args[0], extra[0], code, words, err.strip()))
path = conf_file(BASE[:2])
code, out, err = run(["--check-config", "-c", path])
ok(code != 0 and "signature-key" in err, "missing signature-key: exit %d, %r" % (code, err.strip()))
path = conf_file(BASE[:2] + ["signature-key = tooshort"])
code, out, err = run(["-c", path])
ok(code != 0 and "signature-key" in err, "a signature-key under 16 chars: exit %d, %r" % (code, err.strip()))
code, out, err = run(["-c", "/nonexistent/pullbox.conf"])
ok(code != 0 and "/nonexistent/pullbox.conf" in err, "a missing config file: exit %d, %r" % (code, err.strip()))
code, out, err = run(["--bogus"])
ok(code != 0 and "--bogus" in err, "an unknown argument: exit %d" % code)

# ---- SIGHUP: key rotation without dropping an open long poll ----
with Server({"longpoll-timeout": 20, "header-timeout": 2}) as srv:
    k1, k2 = srv.key, new_id()

    def signed_by(key, cid):
        return "%s.%s" % (cid, sign(key, cid))

    def accepted(key, desc):
        cid = new_id()
        p = Poll(srv, signed_by(key, cid))
        publish_text(srv, cid, '{"k":1}')
        try:
            st, _, body = p.response(5)
        except OSError:
            st, body = None, b""
        return ok(st == 200 and b'"k":1' in body, desc)

    def refused(key, desc):
        st, _, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=" + signed_by(key, new_id()))
        return ok(st == 400 and body == b"4010: Wrong Channel Id.", "%s (%s %r)" % (desc, st, body))

    def reload(extra, desc):
        n = srv.log().count("configuration reloaded")
        srv.write_conf(extra)
        srv.signal(signal.SIGHUP)
        return ok(wait_for(lambda: srv.log().count("configuration reloaded") > n, 5),
                  "SIGHUP (%s): the log says configuration reloaded" % desc)

    c0 = new_id()
    held = Poll(srv, signed_by(k1, c0))
    refused(k2, "before rotation: a signature by the new key is refused")
    reload({"signature-key": k2, "signature-key-previous": k1}, "new key + previous")
    accepted(k2, "after reload with signature-key-previous: the new key is accepted")
    accepted(k1, "after reload with signature-key-previous: the old key is still accepted")
    reload({"signature-key": k2}, "previous key removed")
    refused(k1, "after reload without the previous key: the old signature is refused")
    accepted(k2, "after reload without the previous key: the new key is accepted")

    # ---- SIGHUP with a broken config: keep serving with the old one ----
    n = srv.log().count("reload failed")
    srv.write_conf({"signature-key": k2, "longpoll-timeout": "0"})
    srv.signal(signal.SIGHUP)
    ok(wait_for(lambda: srv.log().count("reload failed") > n, 5) and "longpoll-timeout" in srv.log(),
       "SIGHUP with a broken config: the log says reload failed, naming the key")
    ok(srv.proc.poll() is None and http(srv.pub_port, "GET", "/health")[0] == 200,
       "after a failed reload the server still runs and answers /health")
    accepted(k2, "after a failed reload: the running key still works")
    refused(k1, "after a failed reload: the removed key stays refused")
    srv.write_conf({"signature-key": k2, "no-such-key": "1"})
    srv.signal(signal.SIGHUP)
    ok(wait_for(lambda: srv.log().count("reload failed") > n + 1, 5) and srv.proc.poll() is None,
       "SIGHUP with an unknown key: reload failed, still running")
    srv.write_conf({"signature-key": k2})

    publish_text(srv, c0, '{"held":1}')
    try:
        st, _, body = held.response(5)
    except OSError as e:
        st, body = None, repr(e).encode()
    ok(st == 200 and b'"held":1' in body and held.elapsed > 0,
       "the long poll opened before the reloads (old key) is still open and receives (%s %r)" % (st, body[-60:]))

# ---- SIGHUP: keys read at start only keep their running value, and say so ----
printed = subprocess.run([binary(), "--print-config"], capture_output=True, text=True).stdout
marked = re.findall(r"# Read at start only[^\n]*\n([a-z0-9-]+) = ", printed)
ok({"listen-subscribe", "workers", "journal-path", "redis", "redis-password", "node-name", "user"}
   <= set(marked) and "signature-key" not in marked and "longpoll-timeout" not in marked,
   "--print-config marks the keys read at start only (%d: %s)" % (len(marked), ", ".join(marked)))
with Server({"node-name": "first", "longpoll-timeout": 20}) as srv:
    n = srv.log().count("configuration reloaded")
    srv.write_conf({"node-name": "second", "journal-path": "/nonexistent/journal",
                    "longpoll-timeout": 7})
    srv.signal(signal.SIGHUP)
    ok(wait_for(lambda: srv.log().count("configuration reloaded") > n, 5),
       "SIGHUP changing keys read at start only: the rest is reloaded")
    log = srv.log()
    ok("node-name is read at start only" in log and "journal-path is read at start only" in log
       and "longpoll-timeout is read at start only" not in log,
       "the log names each key read at start only that changed, and no other")
    st, _, body = http(srv.pub_port, "GET", "/server-stat/")
    ok(st == 200 and b'"first"' in body and b'"second"' not in body,
       "the running node-name is kept until a restart (%s)" % body[:120])
    cid = new_id()
    p = Poll(srv, "%s.%s" % (cid, sign(srv.key, cid)))
    publish_text(srv, cid, '{"after":1}')
    st, _, body = p.response(5)
    ok(st == 200 and b'"after":1' in body, "the memory store keeps serving (journal-path not taken up)")

# ---- SIGTERM: waiting long polls get their 304, exit 0 in time ----
with Server({"longpoll-timeout": 30, "shutdown-timeout": 1, "header-timeout": 2}) as srv:
    cid = new_id()
    first = Poll(srv, srv.signed(cid))
    publish_text(srv, cid, '{"s":1}')
    mid = text_frames(first.response(5)[2])[0]["mid"]
    waiting = Poll(srv, srv.signed(cid))
    with_mid = Poll(srv, srv.signed(new_id()), "&mid=" + mid)
    idle = connect(srv.pub_port)  # an idle keep-alive connection
    t0 = time.time()
    srv.signal(signal.SIGTERM)
    for p, want, desc in ((waiting, mid, "no mid, one stored message"), (with_mid, mid, "with mid")):
        try:
            st, h, body = p.response(3)
        except OSError as e:
            st, h = None, {}
            note(repr(e))
        ok(st == 304 and h.get("expires") == MAGIC_EXPIRES and h.get("last-message-id") == want
           and time.time() - t0 < 1.5,
           "SIGTERM: a waiting long poll (%s) gets its 304 with Last-Message-Id at once (%s %r)" % (desc, st, h))
    try:
        code = srv.proc.wait(1 + 2)
    except subprocess.TimeoutExpired:
        code = None
    el = time.time() - t0
    ok(code == 0 and el <= 3, "SIGTERM: exit code 0 within shutdown-timeout + 2 s (%r after %.1fs)" % (code, el))
    idle.settimeout(1)
    try:
        gone = idle.recv(10) == b""
    except OSError:
        gone = True
    ok(gone, "SIGTERM: an idle keep-alive connection is closed")
    idle.close()

# ---- user: ignored when not root; applied when root ----
srv = Server({"user": "no-such-user-pullbox"}, start=False)
os.chmod(srv.dir, 0o755)
os.chmod(srv.conf_path, 0o644)
logf = open(srv.log_path, "ab")
env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
if os.geteuid() == 0:
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary(), "-c", srv.conf_path]
else:
    cmd = [binary(), "-c", srv.conf_path]
proc = subprocess.Popen(cmd, stdout=logf, stderr=logf, env=env)


def _health(s):
    try:
        return http(s.pub_port, "GET", "/health", timeout=1)[0] == 200
    except OSError:
        return False


up = wait_for(lambda: proc.poll() is not None or _health(srv), 10) and proc.poll() is None
ok(up, "not root, user = a nonexistent user: the key is ignored and the server serves (%r)" % srv.log()[-300:])
proc.send_signal(signal.SIGTERM)
try:
    code = proc.wait(5)
except subprocess.TimeoutExpired:
    proc.kill()
    code = proc.wait()
ok(code == 0, "not root: exits 0 on SIGTERM (%r)" % code)
logf.close()

if os.geteuid() == 0:
    srv = Server({"user": "no-such-user-pullbox"}, start=False)
    code, out, err = run(["-c", srv.conf_path])
    ok(code != 0 and "no-such-user-pullbox" in err, "root, user = a nonexistent user: exit %d, %r" % (code, err.strip()))
    srv = Server({"user": "nobody"})
    uid = None
    with open("/proc/%d/status" % srv.pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = [int(x) for x in line.split()[1:]]
    ok(uid == [65534] * 4, "root, user = nobody: the server runs as uid 65534 (%r)" % uid)
    ok(_health(srv), "root, user = nobody: still serving after dropping privileges")
    code = srv.stop()
    ok(code == 0 and srv.sanitizer_clean(), "user = nobody: exits cleanly (%r)" % code)
done()
