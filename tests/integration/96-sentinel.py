#!/usr/bin/env python3
"""A Sentinel-managed Redis (`redis = sentinel:host:port,...`): two nodes
find the primary through a real redis-sentinel, a message published on one
reaches a WebSocket subscriber on the other; after a manual failover (the
old primary stays up as a replica and answers writes READONLY) and after the
new primary is killed and Sentinel promotes again, publishes are
acknowledged again through the new primary and still delivered. Skips only
when redis-server is not installed."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import (Redis, Server, done, free_port, new_id, note, ok, publish_text, server_stat,
                    text_frames, wait_for)
from wsclient import WSClient

if not shutil.which("redis-server"):
    print("1..0 # SKIP redis-server is not installed (scripts/setup-deps installs it)")
    sys.exit(0)


def redis_cmd(port, *args, timeout=2):
    """One command over RESP; the raw reply bytes."""
    req = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a), a) for a in (x.encode() for x in args))
    with socket.create_connection(("127.0.0.1", port), timeout) as c:
        c.sendall(req)
        time.sleep(0.1)
        return c.recv(65536)


def replica_of(primary):
    """A second redis-server replicating primary (kill() and start() like Redis)."""
    r = Redis.__new__(Redis)
    r.exe, r.port, r.password = primary.exe, free_port(), None
    r.dir = tempfile.mkdtemp(prefix="pullbox-redis-")
    r.proc = None
    r.extra = ["--replicaof", "127.0.0.1", str(primary.port)]
    return r


class Sentinel:
    def __init__(self, primary_port):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="pullbox-sentinel-")
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                    "sentinel monitor pbmaster 127.0.0.1 %d 1\n"
                    "sentinel down-after-milliseconds pbmaster 1000\n"
                    "sentinel failover-timeout pbmaster 4000\n" % (self.port, self.dir, primary_port))
        self.proc = subprocess.Popen([shutil.which("redis-server"), conf, "--sentinel"],
                                     stdout=open(os.path.join(self.dir, "log"), "ab"),
                                     stderr=subprocess.STDOUT)

    def primary_port(self):
        try:
            reply = redis_cmd(self.port, "SENTINEL", "get-master-addr-by-name", "pbmaster")
        except OSError:
            return None
        parts = reply.split(b"\r\n")
        return int(parts[4]) if len(parts) > 4 and parts[4].isdigit() else None

    def replicas_known(self):
        try:
            return b"slave" in redis_cmd(self.port, "SENTINEL", "replicas", "pbmaster")
        except OSError:
            return False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_with(r, extra):
    """Redis.start with extra arguments (a replica)."""
    args = [r.exe, "--port", str(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", r.dir] + extra
    r.proc = subprocess.Popen(args, stdout=open(os.path.join(r.dir, "log"), "ab"),
                              stderr=subprocess.STDOUT)
    ok(wait_for(lambda: redis_cmd_ok(r.port), 10), "redis-server on %d started" % r.port)


def redis_cmd_ok(port):
    try:
        return redis_cmd(port, "PING").startswith(b"+PONG")
    except OSError:
        return False


def stat_ok(srv):
    st = server_stat(srv).get("redis", {})
    return st.get("connected") and st.get("subscribed")


def deliver(pub, ws, text, timeout=30):
    """Publishes until acknowledged (a failover takes seconds), then reads ws."""
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        st, _, _ = publish_text(pub, cid, text)
        if st == 200:
            break
        time.sleep(0.3)
    got = []
    while st == 200 and time.time() < deadline and not got:
        data = ws.recv_data(1)
        if data:
            got += text_frames(data)
    return st, got, time.time()


primary = Redis()
replica = replica_of(primary)
start_with(replica, replica.extra)
sentinel = Sentinel(primary.port)
try:
    ok(wait_for(lambda: sentinel.primary_port() == primary.port and sentinel.replicas_known(), 15),
       "Sentinel monitors the primary and knows its replica")
    conf = {"redis": "sentinel:127.0.0.1:%d" % sentinel.port, "redis-sentinel-master": "pbmaster",
            "redis-timeout": 500}
    with Server(dict(conf, **{"node-name": "sx"})) as x, \
            Server(dict(conf, **{"node-name": "sy"}), key=x.key) as y:
        ok(wait_for(lambda: stat_ok(x) and stat_ok(y), 10),
           "two nodes found the primary through Sentinel and subscribed")
        cid = new_id()
        ws = WSClient(y.sub_port, "/bitrix/subws/?CHANNEL_ID=%s" % y.signed(cid), timeout=5)
        time.sleep(0.3)
        st, got, _ = deliver(x, ws, '{"n":1}', 10)
        ok(st == 200 and [f["text"] for f in got] == [{"n": 1}],
           "published on X, received on Y (%s %r)" % (st, got))

        # manual failover: the old primary stays up, now a replica that answers READONLY
        ok(wait_for(lambda: b"connected_slaves:1" in redis_cmd(primary.port, "INFO", "replication"), 10),
           "the replica is in sync before the failover")
        t0 = time.time()
        reply = redis_cmd(sentinel.port, "SENTINEL", "failover", "pbmaster")
        ok(reply.startswith(b"+OK"), "SENTINEL failover accepted (%r)" % reply)
        ok(wait_for(lambda: sentinel.primary_port() == replica.port, 20),
           "Sentinel names the replica as the new primary")
        st, got, t1 = deliver(x, ws, '{"n":2}', 40)
        last_mid = got[-1]["mid"] if got else "0" * 26
        got = [f["text"] for f in got]
        ok(st == 200 and got == [{"n": 2}],
           "after the failover X publishes through the new primary and Y delivers (%s %r, %.1f s)"
           % (st, got, t1 - t0))
        note("manual failover: publishing again %.1f s after SENTINEL failover" % (t1 - t0))
        ok(wait_for(lambda: stat_ok(x) and stat_ok(y), 15), "both nodes are connected and subscribed")

        # the new primary killed: Sentinel promotes the old one (a replica now) back
        ok(wait_for(lambda: b"connected_slaves:1" in redis_cmd(replica.port, "INFO", "replication"), 15),
           "the old primary replicates the new one")
        t0 = time.time()
        replica.proc.kill()
        replica.proc.wait()
        ok(wait_for(lambda: sentinel.primary_port() == primary.port, 30),
           "after the new primary was killed Sentinel promotes the old one again")
        st, got, t1 = deliver(x, ws, '{"n":3}', 40)
        if st == 200 and not got:
            # the node saw its feed miss messages and closed the socket (1012):
            # the client resumes with its mid, as the Bitrix client does
            note("Y's WebSocket was closed for a resume: reconnecting with the last mid")
            ws.close()
            ws = WSClient(y.sub_port, "/bitrix/subws/?CHANNEL_ID=%s&mid=%s" %
                          (y.signed(cid), last_mid), timeout=5)
            data = ws.recv_data(5)
            got = text_frames(data) if data else []
        ok(st == 200 and [f["text"] for f in got] == [{"n": 3}],
           "X publishes through it and Y's client gets it (live, or resuming by mid) (%s %r, "
           "%.1f s after the kill)" % (st, got, t1 - t0))
        note("primary killed: publishing again %.1f s later" % (t1 - t0))
        ws.close()
finally:
    sentinel.kill()
    replica.kill()
    primary.kill()
done()
