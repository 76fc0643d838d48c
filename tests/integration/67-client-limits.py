#!/usr/bin/env python3
"""Untrusted publishes and the history memory budget: a client publish over
client-max-message-size or beyond its connection's bucket (client-publish-
rate/-burst) is refused whole with an error naming the limit (HTTP 413/429
on /bitrix/rest/ and /bitrix/pubweb/, WebSocket close 1009/1008, a JSON-RPC
error); client messages are kept client-message-ttl and client-history-length
per channel; all history stays within history-memory, oldest first, counted
in /metrics, also after a journal replay, while the newest message is still
delivered live. A WebSocket subscriber connected throughout gets every
message of its channel, in order."""
import importlib.util
import json
import os
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from pbtest import (Redis, Server, build_request, catch_up, connect, done, metrics,  # noqa: E402
                    new_id, note, ok, publish_text, read_response, sign)
from wsclient import WSClient, OP_CLOSE, OP_TEXT  # noqa: E402


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


wst = _load("wstests", "40-websocket.py")  # pb_client_publish, pb_outgoing, collect_*
rpct = _load("rpctests", "70-jsonrpc.py")  # jwt, claims, V5Client

MAX = 1024
BURST = 5
CONF = {"client-max-message-size": MAX, "client-publish-rate": 2, "client-publish-burst": BURST,
        "client-message-ttl": 60, "client-history-length": 3, "history-memory": 1,
        "longpoll-timeout": 1}


class Witness:
    """A WebSocket subscriber on its own channel, connected before the
    hostile publishes; step() publishes the next numbered message to it."""

    def __init__(self, srv):
        self.srv, self.cid, self.sent, self.got = srv, new_id(), [], []
        self.c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(self.cid))

    def step(self, size=0):
        n = len(self.sent) + 1
        publish_text(self.srv, self.cid, json.dumps({"witness": n, "pad": "w" * size}))
        self.sent.append(n)
        frames, _ = wst.collect_text(self.c, 1, timeout=3)
        self.got += [f["text"]["witness"] for f in frames]

    def check(self, desc):
        ok(self.got == self.sent, "the subscriber connected throughout got its %d messages in "
           "order %s" % (len(self.sent), desc))
        if self.got != self.sent:
            note("sent %r, got %r" % (self.sent, self.got))


def client_body(n, size=0):
    return json.dumps({"module_id": "c", "command": "n", "params": {"n": n, "pad": "x" * size}})


def rest_publish(srv, sock, sender_ref, pub, pub_sig, body, path="/bitrix/rest/"):
    """One client publish over a kept-alive connection: (status, body)."""
    data = wst.pb_client_publish([(bytes.fromhex(pub), False, pub_sig)], body, 86400)
    sock.sendall(build_request("POST", path + "?CHANNEL_ID=" + sender_ref, data,
                               {"Content-Type": "application/octet-stream"}))
    st, _, b = read_response(sock, "POST")
    return st, b.decode(errors="replace")


def http_side(srv, w):
    r_priv, r_pub = new_id(), new_id()
    p_priv, p_pub = new_id(), new_id()
    pub_sig = bytes.fromhex(sign(srv.key, "public:" + r_pub))
    recv = wst.ws(srv, srv.signed(r_priv, r_pub))
    sender = srv.signed(p_priv, p_pub)
    s = connect(srv.sub_port, timeout=5)
    st, b = rest_publish(srv, s, sender, r_pub, pub_sig, client_body(1, MAX))
    ok(st == 413 and "client-max-message-size" in b and str(MAX) in b,
       "/bitrix/rest/: a message over client-max-message-size is 413 naming it (%s %r)" % (st, b))
    w.step()
    got, _ = wst.collect_text(recv, 1, timeout=0.5)
    ok(got == [], "... and is not delivered (%d frames)" % len(got))
    sent = []
    for n in range(2, 2 + BURST):
        st, b = rest_publish(srv, s, sender, r_pub, pub_sig, client_body(n))
        if st == 200:
            sent.append(n)
    ok(sent == list(range(2, 2 + BURST)), "a burst of %d small client publishes is accepted (%r)"
       % (BURST, sent))
    st, b = rest_publish(srv, s, sender, r_pub, pub_sig, client_body(99))
    ok(st == 429 and "client-publish-rate" in b,
       "the next one on that connection is 429 naming client-publish-rate (%s %r)" % (st, b))
    w.step()
    got, _ = wst.collect_text(recv, BURST + 1, timeout=2)
    ok([f["text"]["params"]["n"] for f in got] == sent,
       "the receiver got exactly the accepted ones, in order (%r)"
       % [f["text"]["params"]["n"] for f in got])
    time.sleep(0.6)  # 2 a second: one more token
    st, b = rest_publish(srv, s, sender, r_pub, pub_sig, client_body(7), path="/bitrix/pubweb/")
    ok(st == 200, "after the bucket refilled a little, /bitrix/pubweb/ takes one more (%s)" % st)
    s.close()
    w.step()

    # what is kept: client-history-length (3) of client messages, capped TTL,
    # the site's own message untouched
    publish_text(srv, r_pub, json.dumps({"site": 1}))
    kept = catch_up(srv, r_pub)
    client_kept = [t["params"]["n"] for t in kept if "params" in t]
    ok(client_kept == [5, 6, 7],
       "the channel keeps the newest client-history-length (3) client messages (%r)" % client_kept)
    ok(any(t.get("site") == 1 for t in kept), "... next to the site's message")
    recv.shutdown()


def ws_side(srv, w):
    r_priv, r_pub = new_id(), new_id()
    p_priv, p_pub = new_id(), new_id()
    pub_sig = bytes.fromhex(sign(srv.key, "public:" + r_pub))
    recv = wst.ws(srv, srv.signed(r_priv, r_pub), extra="&binaryMode=true")
    pubr = wst.ws(srv, srv.signed(p_priv, p_pub), extra="&binaryMode=true")
    pubr.send_binary(wst.pb_client_publish([(bytes.fromhex(r_pub), False, pub_sig)],
                                           client_body(1), 86400))
    got = wst.collect_pb(recv, 1)
    ok(len(got) == 1 and got[0].get("expiry") == 60,
       "a WebSocket client publish is delivered with its expiry cut to client-message-ttl (%r)"
       % [g.get("expiry") for g in got])
    pubr.send_binary(wst.pb_client_publish([(bytes.fromhex(r_pub), False, pub_sig)],
                                           client_body(2, MAX)))
    wst.expect_close(pubr, 1009, "a WebSocket binary publish over client-max-message-size: close 1009")
    ok(pubr.close_frame is not None and "client-max-message-size" in pubr.close_frame.close_reason(),
       "... whose reason names the limit (%r)" % (pubr.close_frame and pubr.close_frame.close_reason()))
    w.step()
    pubr = wst.ws(srv, srv.signed(p_priv, p_pub), extra="&binaryMode=true")
    for n in range(3, 3 + BURST + 1):
        pubr.send_binary(wst.pb_client_publish([(bytes.fromhex(r_pub), False, pub_sig)],
                                               client_body(n)))
    wst.expect_close(pubr, 1008, "a WebSocket publishing beyond its bucket: close 1008")
    ok(pubr.close_frame is not None and "client-publish-rate" in pubr.close_frame.close_reason(),
       "... whose reason names client-publish-rate")
    w.step()
    got = wst.collect_pb(recv, 10, timeout=1.5)
    ns = [json.loads(g["body"])["params"]["n"] for g in got]
    ok(ns == list(range(3, 3 + BURST)), "the receiver got the burst, not the one beyond (%r)" % ns)
    recv.shutdown()


def rpc_side(srv, w):
    r_pub = new_id()
    tok = rpct.jwt(srv.key, rpct.claims("5", [new_id()]))
    u = rpct.V5Client(srv, tok)
    ref = "%s.%s" % (r_pub, sign(srv.key, "public:" + r_pub))
    recv = wst.ws(srv, srv.signed(new_id(), r_pub))

    def publish(id_, size=0):
        u.send(json.dumps({"jsonrpc": "2.0", "id": id_, "method": "publish",
                           "params": {"channelList": [ref], "body": {
                               "module_id": "t", "command": "c", "params": {"n": id_, "pad": "y" * size}}}}))
        return u.response(id_)

    r = publish(1, MAX)
    err = (r or {}).get("error") or {}
    ok("client-max-message-size" in str(err.get("message")) and err.get("code") == -32013,
       "JSON-RPC: a client publish over client-max-message-size is an error naming it (%r)" % r)
    w.step()
    # a small body with a large dictionary or user_params: they are kept and
    # sent with the message, so they count (they once passed any size)
    for n, extra in enumerate(({"dictionary": {"d": "z" * MAX}},
                               {"user_params": {"9": {"p": "z" * MAX}}}), start=100):
        u.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": "publish",
                           "params": dict(extra, channelList=[ref], body={
                               "module_id": "t", "command": "c", "params": {"n": n}})}))
        r = u.response(n)
        err = (r or {}).get("error") or {}
        ok(err.get("code") == -32013 and "client-max-message-size" in str(err.get("message"))
           and str(MAX) in str(err.get("message")) and list(extra)[0] in str(err.get("message")),
           "JSON-RPC: a small body with %s of %d bytes is over client-max-message-size: -32013 "
           "naming the limit (%r)" % (list(extra)[0], MAX, r))
        w.step()
    answers = [publish(n) for n in range(2, 2 + BURST + 1)]
    good = [a for a in answers if a and "result" in a]
    bad = answers[-1] or {}
    ok(len(good) == BURST and "client-publish-rate" in str(bad.get("error", {}).get("message"))
       and bad.get("error", {}).get("code") == -32029,
       "JSON-RPC: %d publishes answer results, the next an error naming client-publish-rate (%r)"
       % (BURST, bad))
    ok(not u.c.closed_by_peer, "... and the V5 client stays connected")
    w.step()
    got, _ = wst.collect_text(recv, BURST + 1, timeout=2)
    ns = [f["text"]["params"]["n"] for f in got]
    ok(ns == list(range(2, 2 + BURST)), "the receiver got the accepted ones in order (%r)" % ns)
    u.finish()
    recv.shutdown()


def budget_side(srv, w, label):
    """history-memory = 1 MiB: 40 messages of 60 KiB to 40 channels."""
    cids = [new_id() for _ in range(40)]
    last = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cids[-1]))
    for i, cid in enumerate(cids):
        publish_text(srv, cid, json.dumps({"i": i, "pad": "z" * 60000}))
        if i % 10 == 9:
            w.step(20000)
    frames, _ = wst.collect_text(last, 1)
    ok(len(frames) == 1 and frames[0]["text"]["i"] == 39,
       "%s: the newest message is delivered live beyond the budget" % label)
    m = metrics(srv)
    hb, budget = m.get("pullbox_history_bytes"), m.get("pullbox_history_budget_bytes")
    ok(budget == 1 << 20 and hb is not None and hb <= budget,
       "%s: history stays within history-memory (%s of %s bytes)" % (label, hb, budget))
    ok(m.get("pullbox_history_evicted_total", 0) >= 20,
       "%s: the evictions are counted (%s)" % (label, m.get("pullbox_history_evicted_total")))
    ok(catch_up(srv, cids[0]) == [] and [t["i"] for t in catch_up(srv, cids[-1])] == [39],
       "%s: the oldest history went first, the newest is kept" % label)
    last.shutdown()
    return cids


def redis_cmd(redis, line):
    """One inline command: the reply's first line and, for a bulk string, its value
    (enough for GET, ZCARD and the count of KEYS)."""
    with socket.create_connection(("127.0.0.1", redis.port), 3) as c:
        c.sendall(line.encode() + b"\r\n")
        data = b""
        while True:
            chunk = c.recv(65536)
            data += chunk
            lines = data.split(b"\r\n")
            if not chunk or (len(lines) > 1 and (not data.startswith(b"$") or
                                                 data.startswith(b"$-1") or len(lines) > 2)):
                break
    lines = data.split(b"\r\n")
    return lines[0].decode(), (lines[1].decode(errors="replace") if data.startswith(b"$") else "")


def redis_side():
    """redis-client-memory = 1 MiB: 32 client messages of 60 KiB from 8 connections."""
    if not shutil.which("redis-server"):
        note("redis-server is not installed: the Redis case is skipped")
        return
    redis = Redis()
    srv = Server(dict(CONF, **{"redis": redis.addr, "redis-timeout": 500, "redis-client-memory": 1,
                               "client-max-message-size": 65536}))
    try:
        w = Witness(srv)
        r_priv, r_pub = new_id(), new_id()
        pub_sig = bytes.fromhex(sign(srv.key, "public:" + r_pub))
        recv = wst.ws(srv, srv.signed(r_priv, r_pub), extra="&binaryMode=true")
        publish_text(srv, r_pub, json.dumps({"site": 1}))
        w.step()
        pubs = [wst.ws(srv, srv.signed(new_id(), new_id()), extra="&binaryMode=true") for _ in range(8)]
        for k in range(4):
            for j, p in enumerate(pubs):
                p.send_binary(wst.pb_client_publish([(bytes.fromhex(r_pub), False, pub_sig)],
                                                    client_body(j * 10 + k, 60000), 86400))
            w.step()
        got = wst.collect_pb(recv, 33, timeout=8)
        ns = [json.loads(g["body"]).get("params", {}).get("n") for g in got]
        per = {j: [n for n in ns if n is not None and n // 10 == j] for j in range(8)}
        ok(len([n for n in ns if n is not None]) == 32 and
           all(per[j] == [j * 10 + k for k in range(4)] for j in range(8)),
           "redis: the receiver got all 32 client messages live, each sender's in order")
        _, used = redis_cmd(redis, "GET pullbox:client_bytes")
        head, _ = redis_cmd(redis, "ZCARD pullbox:client")
        kept = int(head[1:]) if head.startswith(":") else -1
        head, _ = redis_cmd(redis, "KEYS pullbox:msg:*")
        keys = int(head[1:]) if head.startswith("*") else -1
        others = 1 + len(w.sent)  # the site's message and the witness's
        ok(used.isdigit() and int(used) <= 1 << 20 and 0 < kept <= (1 << 20) // 60000
           and keys == kept + others,
           "redis: client messages kept in Redis stay within redis-client-memory (%s bytes, %d "
           "of 32 kept, %d message keys in all)" % (used, kept, keys))
        site = [t for t in catch_up(srv, r_pub) if t.get("site") == 1]
        ok(len(site) == 1, "redis: the site's message is still there for catch-up")
        recv.shutdown()
        for p in pubs:
            p.shutdown()
        w.step()
        w.check("(redis)")
    finally:
        srv.stop()
        redis.kill()


def main():
    with Server(CONF) as srv:
        w = Witness(srv)
        http_side(srv, w)
        ws_side(srv, w)
        rpc_side(srv, w)
        budget_side(srv, w, "memory")
        m = metrics(srv)
        ok(m.get('pullbox_client_publishes_refused_total{limit="client-max-message-size"}') == 5 and
           m.get('pullbox_client_publishes_refused_total{limit="client-publish-rate"}') == 3,
           "refused client publishes are counted by limit (%r)" %
           {k: v for k, v in m.items() if "refused" in k})
        w.check("(client limits, budget)")

    with Server(dict(CONF, workers=2)) as srv:
        w = Witness(srv)
        budget_side(srv, w, "2 workers")
        w.check("(2 workers)")

    jdir = tempfile.mkdtemp(prefix="pullbox-budget-")
    srv = Server(dict(CONF, **{"journal-path": jdir, "history-memory": 4}))
    try:
        cids = [new_id() for _ in range(80)]
        for i, cid in enumerate(cids):
            publish_text(srv, cid, json.dumps({"i": i, "pad": "z" * 60000}))
        srv.stop()
        srv.conf["history-memory"] = "1"
        srv.write_conf()
        srv.start()
        w = Witness(srv)
        w.step()
        m = metrics(srv)
        hb = m.get("pullbox_history_bytes")
        ok(hb is not None and hb <= 1 << 20 and m.get("pullbox_history_evicted_total", 0) > 0,
           "journal: the replay of 4.7 MiB fills history only up to history-memory (%s bytes)" % hb)
        ok([t["i"] for t in catch_up(srv, cids[-1])] == [79] and catch_up(srv, cids[0]) == [],
           "journal: the newest messages were kept, the oldest dropped")
        w.step()
        w.check("(journal)")
    finally:
        srv.stop()
    redis_side()
    done()


if __name__ == "__main__":
    main()
