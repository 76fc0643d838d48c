#!/usr/bin/env python3
"""Worker threads (README "Workers"): with workers = 2 and 4 the subscribers
are spread over the workers' sockets, and still every publish reaches every
subscriber once and in order, catch-up by mid works wherever a subscriber
lands, channel stats and online status count every worker, a client publish
made on any worker reaches all, the per-channel limit closes the oldest
subscriber wherever it is, and SIGHUP and SIGTERM reach every worker.

PULLBOX_TSAN=1 runs only the delivery part (for the -fsanitize=thread build,
which is too slow for the rest and has no leak checker)."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, ok, note, done, new_id, publish_text, text_frames, http, server_stat,  # noqa: E402
                    jwt_token)
from wsclient import WSClient  # noqa: E402

TSAN = os.environ.get("PULLBOX_TSAN") == "1"


def wait_for(pred, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def ws(srv, cid, extra=""):
    return WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=%s%s" % (srv.signed(cid), extra), timeout=10)


def frames(c, want, timeout=10, deadline=None):
    """The text frames c receives until it has `want` of them (bounded;
    deadline, when given, is shared by a batch of subscribers)."""
    got = []
    deadline = deadline or time.time() + timeout
    while len(got) < want and time.time() < deadline:
        try:
            m = c.recv_message(timeout=max(0.1, deadline - time.time()))
        except OSError:
            break
        if m is None:
            break
        op, data = m if isinstance(m, tuple) else (None, m)
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        got += text_frames(data)
    return got


def spread(srv):
    """Connections per worker, from /server-stat/."""
    return [w["connections"] for w in server_stat(srv).get("workers", [])]


def open_spread(srv, cid, n, min_workers=2, extra=""):
    """n subscribers of cid; a few more if the kernel put them all on one
    worker (it hashes the client port, so a handful may land together)."""
    subs = [ws(srv, cid, extra) for _ in range(n)]
    for _ in range(40):
        if sum(1 for x in spread(srv) if x > 0) >= min_workers:
            break
        subs.append(ws(srv, cid, extra))
    return subs


def delivery(srv, workers):
    cid = new_id()
    subs = open_spread(srv, cid, 24)
    ok(all(c.status == 101 for c in subs), "workers=%d: %d WebSocket subscribers connected" % (workers, len(subs)))
    per = spread(srv)
    ok(len(per) == workers and sum(1 for x in per if x > 0) >= 2,
       "workers=%d: /server-stat/ shows connections on more than one worker (%r)" % (workers, per))
    st = server_stat(srv)
    ok(st["websockets"] == len(subs), "websockets sums the workers (%d of %d)" % (st["websockets"], len(subs)))
    bodies = [{"n": i} for i in range(20)]
    for b in bodies:
        publish_text(srv, cid, json.dumps(b))
    mids = None
    good = 0
    deadline = time.time() + 20
    for c in subs:
        got = frames(c, len(bodies), deadline=deadline)
        if [f["text"] for f in got] == bodies:
            good += 1
            ms = [f["mid"] for f in got]
            if mids is None:
                mids = ms
            elif ms != mids:
                good -= 1
    ok(good == len(subs), "workers=%d: 20 publishes reach all %d subscribers once, in order, same mids (%d)"
       % (workers, len(subs), good))
    ok(mids is not None and mids == sorted(mids), "mids ascend in delivery order")
    return cid, subs, mids


def catchup(srv, cid, mids, n):
    """Subscribers with a mid, opened until they have landed on every worker."""
    seen = set()
    good = total = 0
    for _ in range(60):
        c = ws(srv, cid, "&mid=" + mids[9])
        got = frames(c, 10, timeout=5)
        total += 1
        good += [f["mid"] for f in got] == mids[10:]
        per = spread(srv)
        seen |= {i for i, x in enumerate(per) if x > 0}
        c.close()
        if total >= n and len(seen) == len(per):
            break
    ok(good == total, "catch-up by mid gives the 10 newer messages on every worker (%d of %d)" % (good, total))


def resume_race(srv, n):
    """A client that got message X from one worker and comes back with mid=X
    to another, which has not yet taken X from its inbox, must not get X
    again live (the SDK drops such a duplicate, but says so, and other
    clients may not). One subscriber reads each message as soon as it is
    out; a new connection resumes from it at once; its first message must be
    the next one. Under load the window is a scheduler tick wide."""
    cid = new_id()
    first = ws(srv, cid)
    bad = []
    tried = 0
    deadline = time.time() + 60
    for i in range(n):
        if time.time() > deadline:
            break
        publish_text(srv, cid, json.dumps({"r": i}))
        got = frames(first, 1, timeout=5)
        if not got:
            bad.append("the reader missed %d" % i)
            break
        back = ws(srv, cid, "&mid=" + got[-1]["mid"])
        publish_text(srv, cid, json.dumps({"r": i, "next": True}))
        again = frames(back, 1, timeout=5)
        frames(first, 1, timeout=5)
        tried += 1
        if [f["text"] for f in again] != [{"r": i, "next": True}]:
            bad.append("%d: %r" % (i, [f["text"] for f in again]))
        back.close()
    first.close()
    ok(tried == n and not bad, "resume with mid=X on another worker: X is not sent again (%d tries, %d bad: %s)"
       % (tried, len(bad), "; ".join(bad[:3])))


def stats(srv, cid, subs):
    # the catch-up subscribers just closed: their workers drop them when they
    # read the close, so the count may take a moment to come down
    end = time.monotonic() + 10
    while True:
        st, _, body = http(srv.pub_port, "GET", "/bitrix/pub/?CHANNEL_ID=" + cid)
        info = json.loads(body).get("infos", []) if st == 200 else []
        n = info[0]["subscribers"] if info else 0
        if n == len(subs) or time.monotonic() > end:
            break
        time.sleep(0.2)
    ok(n == len(subs), "channel stats count the subscribers of every worker (%d of %d)" % (n, len(subs)))


def client_publish(srv, cid, subs):
    tok = jwt_token(srv.key, "1", [new_id()])
    found = 0
    for _ in range(40):
        # one V5 client per worker at least: publish from each
        v5 = WSClient(srv.sub_port, "/bitrix/subws/?token=%s&jsonRpc=true" % tok, timeout=10)
        body = {"module_id": "t", "from": found, "t": time.time()}
        v5.send_text(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "publish",
                                 "params": {"channelList": [srv.public_ref(cid)], "body": body}}))
        deadline = time.time() + 10
        got = [frames(c, 1, deadline=deadline) for c in subs]
        # text subscribers see the sender the token names in extra.sender
        want = dict(body, extra={"sender": {"type": 1, "id": "1"}})
        good = sum(1 for g in got if len(g) == 1 and g[0]["text"] == want)
        ok(good == len(subs), "a client publish (JSON-RPC over WebSocket) reaches all %d subscribers (%d)"
           % (len(subs), good))
        v5.close()
        found += 1
        if found >= 3:
            break


def limit(srv):
    """max-connections-per-channel = 2: the oldest goes, whichever worker has it."""
    priv, pub = new_id(), new_id()
    ref = "%s:%s" % (priv, pub)
    closed = 0
    for _ in range(6):
        a = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(priv, pub), timeout=10)
        time.sleep(0.1)
        b = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(priv, pub), timeout=10)
        time.sleep(0.1)
        c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(priv, pub), timeout=10)
        code = None
        try:
            code = a.wait_close(timeout=5)
        except OSError:
            pass
        fr = a.close_frame
        closed += fr is not None and fr.close_code() == 4029
        for x in (b, c):
            x.close()
        time.sleep(0.2)
    ok(closed == 6, "max-connections-per-channel: the oldest gets 4029 wherever it is (%d of 6, %s)" % (closed, ref))


def reload_and_stop(srv, cid, subs):
    srv.write_conf({"log-level": "debug"})
    srv.signal(signal.SIGHUP)
    ok(wait_for(lambda: "configuration reloaded" in srv.log(), 5), "SIGHUP reloads")
    publish_text(srv, cid, '{"after":"reload"}')
    deadline = time.time() + 10
    got = [frames(c, 1, deadline=deadline) for c in subs]
    ok(sum(1 for g in got if g and g[-1]["text"] == {"after": "reload"}) == len(subs),
       "after SIGHUP every worker still delivers")
    srv.signal(signal.SIGTERM)
    codes = []
    for c in subs:
        try:
            c.wait_close(timeout=5)
        except OSError:
            pass
        codes.append(c.close_frame.close_code() if c.close_frame else None)
    ok(all(x == 1001 for x in codes), "SIGTERM: every worker closes its WebSockets with 1001 (%r)" % codes[:8])


for workers in ((2,) if TSAN else (2, 4)):
    with Server({"workers": workers, "ws-ping-interval": 30}) as srv:
        cid, subs, mids = delivery(srv, workers)
        if mids:
            catchup(srv, cid, mids, 4 if TSAN else 8)
        resume_race(srv, 40 if TSAN else 300)
        stats(srv, cid, subs)
        client_publish(srv, cid, subs)
        if not TSAN and workers == 2:
            reload_and_stop(srv, cid, subs)
        else:
            for c in subs:
                c.close()
    if not TSAN and workers == 2:
        with Server({"workers": 2, "max-connections-per-channel": 2}) as srv:
            limit(srv)
done()
