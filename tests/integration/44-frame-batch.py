#!/usr/bin/env python3
"""Messages that pile up for a WebSocket within one turn (pipelined
publishes, a backlog that grew) are framed a bounded batch at a time: no
frame carries much more than 16 KiB of bodies plus one message, so a client
that caps its frames (1 MiB is a common default, some load generators take
128 KiB) is never sent one past it, and every message arrives once, in order.

The same for a catch-up: a client that resumes (mid) with 100 messages of
2 KB waiting gets them in frames of that size, in text, protobuf and
JSON-RPC (by channel, and by user with its own user_params), whole in each
format; from the memory store and from Redis, whose catch-up arrives in one
piece (one frame of about 225 KB before); a long poll still answers it all
in one body."""
import hashlib
import hmac
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, Redis, ok, note, done, new_id, connect, build_request, text_frames,  # noqa: E402
                    http, catch_up, jwt_token)
from pbproto import decode_response_batch  # noqa: E402
from wsclient import WSClient, OP_TEXT, OP_BINARY  # noqa: E402

N, BODY = 80, 2000
CAP = 16 * 1024 + 2 * BODY + 4096  # the batch, one more message, envelopes
HISTORY = 100  # catchup-per-channel's default: all of it is kept
MID0 = "0" * 26
USER = "7"


def payload(n):
    return {"module_id": "t", "command": "h", "params": {"n": n, "pad": "y" * BODY}}


def rpc_publish(srv, params):
    body = json.dumps([{"jsonrpc": "2.0", "method": "publish", "params": params}]).encode()
    sig = hmac.new(srv.key.encode(), body, getattr(hashlib, srv.algo)).hexdigest()
    st, _, _ = http(srv.pub_port, "POST", "/bitrix/api/?signature=" + sig, body,
                    {"Content-Type": "application/json", "X-HostId": "h" * 32})
    return st


def numbers(kind, op, data):
    """The message numbers in one frame, parsed as the client of that format
    does (a frame it cannot parse whole raises)."""
    if kind == "text":
        assert op == OP_TEXT
        return [f["text"]["params"]["n"] for f in text_frames(data)]
    if kind == "protobuf":
        assert op == OP_BINARY
        out = []
        for r in decode_response_batch(data):
            out += [json.loads(m["body"])["params"]["n"] for m in r["outgoingMessages"]]
        return out
    assert op == OP_TEXT
    if data == b"ping":
        return None
    j = json.loads(data)
    out = []
    for r in (j if isinstance(j, list) else [j]):
        assert r["method"] == "incoming.message"
        n = r["params"]["body"]["params"]["n"]
        if kind == "jsonrpc-user":
            assert r["params"]["user_params"] == {"u": n}, "the user's own user_params"
        out.append(n)
    return out


def resume(srv, store):
    """Subscribers that resume from mid zero with HISTORY messages of BODY
    bytes waiting, in each framing."""
    cid = new_id()
    for i in range(HISTORY):
        http(srv.pub_port, "POST", "/bitrix/pub/?CHANNEL_ID=" + cid, json.dumps(payload(i)),
             {"Message-Expiry": "600"})
    sent = sum(rpc_publish(srv, {"userList": [int(USER)], "body": payload(i), "expiry": 600,
                                 "user_params": {USER: {"u": i}}}) == 200 for i in range(HISTORY))
    ok(sent == HISTORY, "%s: %d messages for user %s published" % (store, sent, USER))
    subs = {
        "text": "CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), MID0),
        "protobuf": "CHANNEL_ID=%s&mid=%s&binaryMode=true" % (srv.signed(cid), MID0),
        "jsonrpc": "CHANNEL_ID=%s&mid=%s&jsonRpc=true" % (srv.signed(cid), MID0),
        "jsonrpc-user": "token=%s&jsonRpc=true&mid=%s" % (jwt_token(srv.key, USER, [new_id()]), MID0),
    }
    for kind, query in subs.items():
        c = WSClient(srv.sub_port, "/bitrix/subws/?" + query, timeout=10)
        got, sizes, bad = [], [], None
        deadline = time.time() + 15
        while len(got) < HISTORY and time.time() < deadline:
            m = c.recv_message(1.0)
            if not m:
                continue
            try:
                ns = numbers(kind, m[0], m[1])
            except (AssertionError, ValueError, KeyError, TypeError) as e:
                bad = "%r (%s)" % (m[1][:80], e)
                break
            if ns is not None:
                sizes.append(len(m[1]))
                got += ns
        c.shutdown()
        note("%s, %s: %d messages in %d frames, the largest %d bytes" %
             (store, kind, len(got), len(sizes), max(sizes or [0])))
        ok(c.status == 101 and bad is None, "%s, %s: every frame parses whole%s" %
           (store, kind, "" if bad is None else ": " + bad))
        ok(got == list(range(HISTORY)), "%s, %s: the %d messages of the catch-up arrive once, in "
           "order (%d)" % (store, kind, HISTORY, len(got)))
        ok(len(sizes) > 1 and max(sizes) <= CAP, "%s, %s: in %d frames, none larger than %d bytes "
           "(largest %d)" % (store, kind, len(sizes), CAP, max(sizes or [0])))
    # a long poll answers once: all of it in one body, as before
    texts = catch_up(srv, cid)
    ok([t["params"]["n"] for t in texts] == list(range(HISTORY)),
       "%s: a long poll from mid zero answers all %d in one body (%d)" % (store, HISTORY, len(texts)))


def main():
    with Server({"workers": 1}) as srv:
        cid = new_id()
        c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid))
        ok(c.status == 101, "a WebSocket subscriber is connected")
        # every publish in one write: the server reads and handles them in one turn
        reqs = b"".join(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + cid, json.dumps(
            {"module_id": "t", "command": "b", "params": {"n": i, "pad": "x" * BODY}}))
            for i in range(N))
        p = connect(srv.pub_port, timeout=10)
        p.sendall(reqs)
        got, sizes = [], []
        deadline = time.time() + 15
        while len(got) < N and time.time() < deadline:
            m = c.recv_message(1.0)
            if m and m[0] == OP_TEXT:
                sizes.append(len(m[1]))
                got += [f["text"]["params"]["n"] for f in text_frames(m[1])]
        p.close()
        note("%d messages in %d frames, the largest %d bytes" % (len(got), len(sizes), max(sizes or [0])))
        ok(got == list(range(N)), "all %d messages arrived once, in order (%d)" % (N, len(got)))
        ok(sizes and max(sizes) <= CAP, "no frame is larger than %d bytes (largest %d)" % (CAP, max(sizes or [0])))
        ok(len(sizes) > 1, "%d frames: the batch was split" % len(sizes))
        c.shutdown()
        resume(srv, "memory store")
    if not shutil.which("redis-server"):
        ok(False, "redis-server is installed (scripts/setup-deps installs it)")
        done()
    redis = Redis()
    try:
        with Server({"workers": 1, "redis": redis.addr}) as srv:
            resume(srv, "redis store")
    finally:
        redis.kill()
    done()


if __name__ == "__main__":
    main()
