#!/usr/bin/env python3
"""The cluster's Redis with an ACL, as the hub's redis.conf sets it up: the
default user off, pullboxd's user allowed exactly server/src/redis_acl.h's
commands on its own keys and channels. Two nodes then work as one (fan-out,
resume by mid from Redis, publish answers), while the same user cannot run
CONFIG, FLUSHALL, REPLICAOF, MONITOR, ACL, KEYS, DEBUG or SHUTDOWN; a node
without the user is refused with a log line naming redis-user. All of it
twice: over plain TCP, and over TLS as on the appliance (Redis with
tls-port only, the nodes verifying its certificate against its CA, one
pinning the CA's SHA-256). Skips only when redis-server is not installed."""
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import (ROOT, Redis, Server, done, new_id, note, ok, publish_text, server_stat,  # noqa: E402
                    text_frames, wait_for, wait_log)
from wsclient import WSClient  # noqa: E402

if not shutil.which("redis-server"):
    print("1..0 # SKIP redis-server is not installed (scripts/setup-deps installs it)")
    sys.exit(0)

header = open(os.path.join(ROOT, "server", "src", "redis_acl.h")).read()
acl = " ".join(re.findall(r'"([^"]*)"', header[header.index("#define REDIS_ACL_COMMANDS"):]))
user = re.search(r'#define REDIS_ACL_USER "([a-z]+)"', header).group(1)
ok(acl.startswith("-@all ") and "+evalsha" in acl, "the ACL rule from redis_acl.h: %s" % acl)


def run(tls):
    note("---- %s ----" % ("TLS" if tls else "plain TCP"))
    PW = "acl-" + new_id()
    redis = Redis(args=["--user", "default", "off",
                        "--user", user, "reset", "on", ">" + PW, "~pullbox:*", "&pullbox:*"] + acl.split(),
                  tls=tls)

    def resp(*argv, auth=True):
        """One command (after AUTH as pullboxd's user) in raw RESP: the first reply line."""
        with redis.connect() as c:
            f = c.makefile("rb")

            def cmd(*a):
                c.sendall(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x)
                                                        for x in (s.encode() for s in a)))
                return f.readline().decode(errors="replace").strip()
            if auth:
                r = cmd("AUTH", user, PW)
                if r != "+OK":
                    return "AUTH: " + r
            return cmd(*argv)

    ok(resp("PING") == "+PONG", "pullboxd's user logs in with its password and may PING")
    ok(resp("AUTH", PW, auth=False).startswith("-WRONGPASS"), "the default user is off: AUTH <password> alone fails")
    for bad in (["CONFIG", "GET", "dir"], ["FLUSHALL"], ["REPLICAOF", "192.0.2.1", "6379"], ["MONITOR"],
                ["ACL", "LIST"], ["KEYS", "*"], ["DEBUG", "SLEEP", "0"], ["SHUTDOWN", "NOSAVE"],
                ["SET", "other:key", "1"], ["SUBSCRIBE", "other-channel"]):
        r = resp(*bad)
        # DEBUG is also off for every user (enable-debug-command no): refused either way
        ok(r.startswith("-NOPERM") or r.startswith("-ERR DEBUG command not allowed"),
           "pullboxd's user may not run %s (%s)" % (" ".join(bad), r[:70]))

    def collect(ws, want, timeout=10):
        """Text frames from ws until want came or the time is up."""
        got = []
        deadline = time.time() + timeout
        while len(got) < want and time.time() < deadline:
            data = ws.recv_data(0.5)
            if data:
                got += text_frames(data)
        return got

    def node(name, extra=None, pin=False):
        conf = {"redis": redis.addr, "redis-user": user, "redis-password": PW, "node-name": name,
                "redis-timeout": 500, "longpoll-timeout": 5}
        conf.update(redis.node_tls(pin))
        conf.update(extra or {})
        return conf

    with Server(node("node-a")) as a:
        with Server(node("node-b", pin=True), key=a.key) as b:
            up = lambda n: server_stat(n).get("redis", {}).get("subscribed")  # noqa: E731
            ok(wait_for(lambda: up(a) and up(b), 5), "both nodes log in as %s and subscribe to the feed" % user)
            cid, witness = new_id(), new_id()
            ws = WSClient(b.sub_port, "/bitrix/subws/?CHANNEL_ID=%s/%s" % (b.signed(cid), b.signed(witness)),
                          timeout=5)
            time.sleep(0.2)
            codes = [publish_text(a, [cid, witness], '{"n":%d}' % i)[0] for i in range(20)]
            ok(codes == [200] * 20, "20 publishes on node A answered 200 (%s)" % sorted(set(codes)))
            got = collect(ws, 20)
            ns = [int(f["text"]["n"]) for f in got] if all(isinstance(f["text"], dict) for f in got) else []
            ok(ns == list(range(20)), "the subscriber on node B got all 20 in order through Redis (%d)" % len(got))
            ws.close()
            mid = got[4]["mid"] if len(got) > 4 else "0" * 26
            with Server(node("node-c"), key=a.key) as c:
                ok(wait_for(lambda: up(c), 5), "a third node starts later and logs in")
                p = WSClient(c.sub_port, "/bitrix/subws/?CHANNEL_ID=%s&mid=%s" % (c.signed(cid), mid), timeout=5)
                again = collect(p, 15)
                p.close()
                ok([f["mid"] for f in again] == [f["mid"] for f in got[5:]],
                   "resume by mid on the new node: the 15 after it, from Redis (%d)" % len(again))
            ok("NOPERM" not in a.log() + b.log(), "no NOPERM in either node's log")
            if tls:
                ok("(TLS)" in a.log() and "(TLS, pinned CA)" in b.log(),
                   "node A verified Redis against its CA file, node B against the pinned CA's SHA-256")

    with Server({"redis": redis.addr, "redis-password": PW, "node-name": "no-user", "redis-timeout": 500,
                 **redis.node_tls()}) as n:
        ok(wait_log(n, "redis-user", 5), "a node without redis-user is refused, and its log names redis-user")
    redis.kill()


for tls in (False, True):
    run(tls)
done()
