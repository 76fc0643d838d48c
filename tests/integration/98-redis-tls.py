#!/usr/bin/env python3
"""TLS between a node and the cluster's Redis, and what a node does when the
other end is not the Redis it was told to trust. A real redis-server with
tls-port only and certificates made here with the openssl CLI: a node that
verifies it (CA file, or the CA's pinned SHA-256) publishes and delivers
through it; a wrong CA, a wrong pin or a wrong name is refused with a log
line saying why, retried, and publishes answer 503. The password never
leaves the node in clear: an impostor with a certificate of another CA on
the node's Redis address decrypts nothing, and a plain-text listener there
gets only TLS handshakes, on every retry. A TLS-only Sentinel is asked over
TLS too, and refused on a wrong CA. Skips only when redis-server is not
installed."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import (Redis, Server, TestCA, done, free_port, new_id, ok, publish_text,  # noqa: E402
                    refused_at_start, server_stat, text_frames, wait_for)
from wsclient import WSClient  # noqa: E402

if not shutil.which("redis-server"):
    print("1..0 # SKIP redis-server is not installed (scripts/setup-deps installs it)")
    sys.exit(0)

PW = "tls-" + new_id()
redis = Redis(password=PW, tls=True)


def node(name, tls, addr=None):
    conf = {"redis": addr or redis.addr, "redis-password": PW, "node-name": name,
            "redis-timeout": 500}
    conf.update(tls)
    return conf


def connected(srv):
    return server_stat(srv).get("redis", {}).get("connected")


def count_log(srv, text):
    return srv.log().count(text)


# ---- the right CA: the store works through TLS ----
with Server(node("good", redis.node_tls())) as good:
    ok(wait_for(lambda: connected(good) and server_stat(good)["redis"].get("subscribed"), 5),
       "a node that verifies Redis's certificate against its CA logs in and subscribes")
    cid = new_id()
    ws = WSClient(good.sub_port, "/bitrix/subws/?CHANNEL_ID=%s" % good.signed(cid), timeout=5)
    time.sleep(0.2)
    codes = [publish_text(good, cid, '{"n":%d}' % i)[0] for i in range(5)]
    got = []
    deadline = time.time() + 5
    while len(got) < 5 and time.time() < deadline:
        data = ws.recv_data(0.5)
        if data:
            got += text_frames(data)
    ws.close()
    ok(codes == [200] * 5 and [f["text"]["n"] for f in got] == list(range(5)),
       "5 publishes answered 200 and delivered in order through the TLS Redis (%s, %d)"
       % (codes, len(got)))
    ok("(TLS)" in good.log(), "its log says the store uses TLS")

    # ---- refusals: each a log line with the reason, a retry, 503s; the good node unaffected ----
    other = TestCA(tempfile.mkdtemp(prefix="pullbox-other-ca-"), "other-ca")
    cases = [
        ("wrong-ca", {"redis-tls": "on", "redis-tls-ca": other.pem},
         "is refused: self-signed certificate in certificate chain"),
        ("wrong-pin", {"redis-tls": "on", "redis-tls-fingerprint": other.fingerprint},
         "presents no certificate with the SHA-256 of redis-tls-fingerprint"),
        ("wrong-name", dict(redis.node_tls(), **{"redis-tls-name": "hub.invalid"}),
         "is refused: hostname mismatch"),
        ("wrong-name-pinned", dict(redis.node_tls(pin=True), **{"redis-tls-name": "hub.invalid"}),
         "is refused: hostname mismatch"),
    ]
    for name, tls, why in cases:
        with Server(node(name, tls)) as n:
            ok(wait_for(lambda: count_log(n, why) >= 2, 5),
               "%s: the log says why, and it is retried (%d lines: %r)"
               % (name, count_log(n, why), n.log().strip().splitlines()[-1][:160]))
            ok(not connected(n) and publish_text(n, new_id(), "x")[0] == 503,
               "%s: the node stays disconnected and publishes answer 503" % name)
    ok(publish_text(good, cid, "still")[0] == 200, "the node with the right CA kept publishing meanwhile")


# ---- Sentinel over TLS: the node asks a TLS-only Sentinel, then dials the primary it names ----
sentinel_dir = tempfile.mkdtemp(prefix="pullbox-sentinel-")
s_chain, s_key = redis.ca.issue("sentinel")
s_port = free_port()
with open(os.path.join(sentinel_dir, "sentinel.conf"), "w") as f:
    f.write("port 0\ntls-port %d\nbind 127.0.0.1\ndir %s\ntls-cert-file %s\ntls-key-file %s\n"
            "tls-ca-cert-file %s\ntls-auth-clients no\ntls-replication yes\n"
            "sentinel monitor pbmaster 127.0.0.1 %d 1\nsentinel auth-pass pbmaster %s\n"
            % (s_port, sentinel_dir, s_chain, s_key, redis.ca.pem, redis.port, PW))
sentinel = subprocess.Popen([shutil.which("redis-server"), os.path.join(sentinel_dir, "sentinel.conf"),
                             "--sentinel"], stdout=open(os.path.join(sentinel_dir, "log"), "ab"),
                            stderr=subprocess.STDOUT)
try:
    via = {"redis": "sentinel:127.0.0.1:%d" % s_port, "redis-sentinel-master": "pbmaster"}
    with Server(dict(node("via-sentinel", redis.node_tls(pin=True)), **via)) as n:
        ok(wait_for(lambda: connected(n) and server_stat(n)["redis"].get("subscribed"), 10),
           "a node asks a TLS-only Sentinel for the primary, then logs in to it over TLS")
        ok(publish_text(n, new_id(), "x")[0] == 200, "and publishes through it")
    with Server(dict(node("sentinel-wrong-ca", {"redis-tls": "on", "redis-tls-ca": other.pem}), **via)) as n:
        why = "Sentinel 127.0.0.1:%d: TLS: Redis's certificate" % s_port
        ok(wait_for(lambda: count_log(n, why) >= 2, 10),
           "a Sentinel whose certificate is not from the CA is refused, logged and retried (%r)"
           % n.log().strip().splitlines()[-1][:160])
finally:
    sentinel.kill()
    sentinel.wait()


# ---- no clear text, whatever listens on the node's Redis address ----
class Listener:
    """Accepts connections on 127.0.0.1 and records, per connection, what
    arrives: decrypted with its own certificate (an impostor), or raw."""

    def __init__(self, cert=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.got, self.errors = [], []
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*cert)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        data = b""
        c.settimeout(3)
        try:
            if self.ctx:
                c = self.ctx.wrap_socket(c, server_side=True)
            while True:
                b = c.recv(4096)
                if not b:
                    break
                data += b
                if not self.ctx:
                    c.sendall(b"+OK\r\n")  # a plain Redis would answer
        except (OSError, ssl.SSLError) as e:
            self.errors.append(str(e))
        finally:
            self.got.append(data)
            c.close()

    def close(self):
        self.sock.close()


impostor = Listener(other.issue("impostor"))
with Server(node("to-impostor", redis.node_tls(), "127.0.0.1:%d" % impostor.port)) as n:
    ok(wait_for(lambda: len(impostor.got) >= 3, 5),
       "a TLS impostor (certificate of another CA for 127.0.0.1): the node connects, is refused, retries "
       "(%d connections)" % len(impostor.got))
    ok(all(d == b"" for d in impostor.got) and PW.encode() not in b"".join(impostor.got),
       "it decrypts not one byte: no AUTH, no password (%r)" % impostor.got[:3])
    ok(any("unknown ca" in e or "alert" in e for e in impostor.errors),
       "the node ended each handshake with an alert (%r)" % impostor.errors[:1])
    ok("is refused: self-signed certificate in certificate chain" in n.log(), "the node's log says why")
impostor.close()

plain = Listener()
with Server(node("to-plain", redis.node_tls(pin=True), "127.0.0.1:%d" % plain.port)) as n:
    ok(wait_for(lambda: len(plain.got) >= 3, 5),
       "a plain-text listener answering like Redis: the node connects and retries (%d connections)"
       % len(plain.got))
    raw = b"".join(plain.got)
    ok(all(d[:2] == b"\x16\x03" for d in plain.got) and PW.encode() not in raw and b"AUTH" not in raw,
       "every connection brought only a TLS ClientHello: never AUTH or the password in clear (%r)"
       % [d[:8] for d in plain.got[:3]])
    ok(not connected(n), "and the node is not connected")
plain.close()
redis.kill()

# ---- settings ----
for conf, text in (({"redis": "127.0.0.1:1", "redis-tls": "on"}, "redis-tls: on needs one of"),
                   ({"redis": "127.0.0.1:1", "redis-tls": "on", "redis-tls-ca": "/x",
                     "redis-tls-fingerprint": "00" * 32}, "redis-tls: on needs one of"),
                   ({"redis": "127.0.0.1:1", "redis-tls-fingerprint": "ab:cd"},
                    "redis-tls-fingerprint: \"ab:cd\" is not a SHA-256"),
                   ({"redis": "unix:/tmp/r.sock", "redis-tls": "on", "redis-tls-ca": "/x"},
                    "no TLS on a unix: socket"),
                   ({"redis": "127.0.0.1:%d" % free_port(), "redis-tls": "on",
                     "redis-tls-ca": "/nonexistent/ca.pem"},
                    "redis-tls-ca: /nonexistent/ca.pem: no CA certificate read")):
    refused_at_start(conf, text)
done()
