#!/usr/bin/env python3
"""Several nodes sharing one Redis act as one server: a message published on
any node reaches WebSocket and long-poll subscribers on every node in mid
order, with no gaps and no duplicates; a client resumes by mid on another
node (from memory, or from Redis on a node that started later); with Redis
stopped or killed, publishes answer 503, nodes stay up and serve, and
delivery resumes once Redis is back; a bad password is refused with a clear
log line. Skips only when redis-server is not installed."""
import hashlib
import hmac
import json
import os
import re
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from pbtest import (Redis, Server, build_request, connect, done, http, metrics, new_id, note, ok,
                    publish_text, read_response, refused_at_start, server_stat, text_frames,
                    wait_for, wait_log)
from wsclient import WSClient
import pbproto as pb  # noqa: E402

if not shutil.which("redis-server"):
    print("1..0 # SKIP redis-server is not installed (scripts/setup-deps installs it)")
    sys.exit(0)

ZERO = "0" * 26


def node_conf(redis, name, extra=None):
    conf = {"redis": redis.addr, "node-name": name, "redis-timeout": 500, "longpoll-timeout": 5,
            "history-length": 1000, "catchup-per-channel": 1000, "catchup-total": 1000}
    conf.update(extra or {})
    return conf


def ws_sub(srv, cid):
    return WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=%s" % srv.signed(cid), timeout=5)


def ws_collect(ws, want, timeout=10):
    """Text frames from ws until `want` texts came or the time is up."""
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        data = ws.recv_data(max(0.1, deadline - time.time()))
        if data is None:
            break
        got += text_frames(data)
    return got


def poll(srv, cid, mid=ZERO, timeout=8):
    """One long poll with mid: the frames it answered (empty on 304)."""
    s = connect(srv.sub_port, timeout)
    try:
        s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=%s&mid=%s" %
                                (srv.signed(cid), mid)))
        st, h, body = read_response(s)
    finally:
        s.close()
    return text_frames(body) if st == 200 else []


def poll_all(srv, cid, mid, want, timeout=15):
    """Long polls in a loop, each with the last mid, like the Bitrix client."""
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        frames = poll(srv, cid, mid)
        if frames:
            got += frames
            mid = frames[-1]["mid"]
    return got


def in_order(frames):
    mids = [f["mid"] for f in frames]
    return all(len(m) == 26 and m.isdigit() for m in mids) and mids == sorted(set(mids))


def api_publish(srv, cid, body):
    """PHP's V5 publish: a signed JSON-RPC batch to /bitrix/api/."""
    raw = json.dumps([{"jsonrpc": "2.0", "method": "publish",
                       "params": {"channelList": [cid], "body": body, "expiry": 600}}]).encode()
    sig = hmac.new(srv.key.encode(), raw, getattr(hashlib, srv.algo)).hexdigest()
    st, _, data = http(srv.pub_port, "POST", "/bitrix/api/?signature=" + sig, raw,
                       {"Content-Type": "application/json"})
    try:
        return st, json.loads(data)
    except ValueError:
        return st, data


def rss_kb(srv):
    with open("/proc/%d/status" % srv.pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def stat_ok(srv):
    st = server_stat(srv)
    return st.get("redis", {}).get("connected") and st["redis"].get("subscribed")


redis = Redis()
key = None
with Server(node_conf(redis, "node-a")) as a:
    key = a.key
    with Server(node_conf(redis, "node-b"), key=key) as b, \
            Server(node_conf(redis, "node-c"), key=key) as c:
        nodes = [a, b, c]
        ok(all(wait_for(lambda n=n: stat_ok(n), 5) for n in nodes),
           "three nodes report Redis connected and the feed subscribed")
        st = server_stat(b)
        ok(st["node"] == "node-b" and st["clusterMode"] is True and st["store"] == "redis",
           "/server-stat/ names the node, the store and cluster mode")
        m = metrics(c)
        ok(m.get('pullbox_node_info{node="node-c",store="redis"}') == 1 and
           m.get('pullbox_redis_up{conn="command"}') == 1, "/metrics shows the node and Redis up")

        # ---- fan-out: published on A (and on B, C), received on B and C in order ----
        cid = new_id()
        wb, wc = ws_sub(b, cid), ws_sub(c, cid)
        time.sleep(0.2)
        for i in range(30):
            st, _, _ = publish_text([a, b, c][i % 3], cid, '{"n":%d}' % i)
            if st != 200:
                note("publish %d answered %d" % (i, st))
        fb, fc = ws_collect(wb, 30), ws_collect(wc, 30)
        want = [{"n": i} for i in range(30)]
        ok([f["text"] for f in fb] == want, "WebSocket on B gets 30 messages published on A, B "
           "and C, in order, once each (%d)" % len(fb))
        ok([f["text"] for f in fc] == want, "WebSocket on C gets the same (%d)" % len(fc))
        ok(in_order(fb) and [f["mid"] for f in fb] == [f["mid"] for f in fc],
           "mids are cluster-wide: increasing, the same on every node")
        lp = poll_all(b, cid, ZERO, 30)
        ok([f["text"] for f in lp] == want and in_order(lp),
           "a long-poll client on B catches up all 30 in order")

        # ---- PHP's JSON-RPC publish: answered once Redis has it, with the cluster mid ----
        rid = new_id()
        wr = ws_sub(b, rid)
        time.sleep(0.2)
        st, rj = api_publish(a, rid, {"module_id": "im", "command": "rpc", "params": {}})
        got = ws_collect(wr, 1)
        res = rj[0].get("result", {}) if isinstance(rj, list) and rj else {}
        ok(st == 200 and len(got) == 1 and res.get("mid") == got[0]["mid"],
           "a JSON-RPC publish on A answers with the mid subscribers on B receive (%s %r %r)" %
           (st, res, [g["mid"] for g in got]))
        # three publishes of one batch: one script call, one feed message, three mids in order
        raw = json.dumps([{"jsonrpc": "2.0", "method": "publish",
                           "params": {"channelList": [rid], "expiry": 600,
                                      "body": {"module_id": "im", "command": "b%d" % k,
                                               "params": {}}}} for k in range(3)]).encode()
        sig = hmac.new(a.key.encode(), raw, getattr(hashlib, a.algo)).hexdigest()
        st, _, data = http(a.pub_port, "POST", "/bitrix/api/?signature=" + sig, raw,
                           {"Content-Type": "application/json"})
        mids = [r.get("result", {}).get("mid") for r in json.loads(data)] if st == 200 else []
        got = ws_collect(wr, 3)
        ok(st == 200 and [g["text"]["command"] for g in got] == ["b0", "b1", "b2"] and
           [g["mid"] for g in got] == mids and len(set(mids)) == 3 and
           [int(m[10:]) for m in mids] == list(range(int(mids[0][10:]), int(mids[0][10:]) + 3)),
           "a JSON-RPC batch of 3: consecutive cluster mids in the answer, the same 3 in order on "
           "B (%r %r)" % (mids, [g["mid"] for g in got]))
        wr.close()

        # ---- resume on another node with the mid it got from B ----
        mid9 = fb[9]["mid"]
        got = poll_all(c, cid, mid9, 20)
        ok([f["text"] for f in got] == want[10:],
           "a client resuming on C with the mid from B gets exactly what it missed")
        with Server(node_conf(redis, "node-d"), key=key) as d:
            wait_for(lambda: stat_ok(d), 5)
            got = poll_all(d, cid, mid9, 20)
            ok([f["text"] for f in got] == want[10:],
               "a node started later serves the same resume from Redis")
            ok(metrics(d).get("pullbox_redis_catchup_reads_total", 0) >= 1,
               "that catch-up was read from Redis")
            got = poll_all(d, cid, fb[-1]["mid"], 0, 1)
            ok(got == [], "resuming at the newest mid gets nothing")
            # live messages published while a catch-up is read wait behind it
            ws = WSClient(d.sub_port, "/bitrix/subws/?CHANNEL_ID=%s&mid=%s" %
                          (d.signed(cid), fb[24]["mid"]), timeout=5)
            publish_text(a, cid, '{"n":30}')
            got = ws_collect(ws, 6)
            ok([f["text"] for f in got] == want[25:] + [{"n": 30}] and in_order(got),
               "a WebSocket resuming on a fresh node gets the catch-up, then live, in order")
            ws.close()
        fb += ws_collect(wb, 1)
        fc += ws_collect(wc, 1)

        # ---- Redis stopped (SIGSTOP) for 10 s under a publish loop ----
        acked, refused, other = [], [], []
        stop = threading.Event()

        def loop():
            i = 100
            while not stop.is_set():
                try:
                    st, _, body = publish_text(a, cid, '{"n":%d}' % i)
                except OSError as e:
                    st, body = None, repr(e).encode()
                (acked if st == 200 else refused if st == 503 else other).append((i, body))
                i += 1
                time.sleep(0.03)

        t = threading.Thread(target=loop)
        t.start()
        time.sleep(1)
        redis.pause()
        time.sleep(1.5)
        health = [http(n.pub_port, "GET", "/health", timeout=2)[0] for n in nodes]
        ok(health == [200, 200, 200], "with Redis stopped every node answers /health (%s)" % health)
        st, rj = api_publish(a, new_id(), {"module_id": "im", "command": "held", "params": {}})
        ok(st == 503, "a JSON-RPC publish while Redis is stopped is not acknowledged: 503 (%s %r)"
           % (st, rj if isinstance(rj, bytes) else rj))
        ok(isinstance(rj, bytes) and b"Redis" in rj, "and its 503 body says why (%r)" % (rj,))
        # a node keeps serving its own subscribers meanwhile
        st_b = server_stat(b)
        ok(st_b["websockets"] >= 1, "node B still holds its WebSocket subscriber")
        rss0 = rss_kb(a)
        time.sleep(10 - 1.5)  # ten seconds stopped in all
        grew = rss_kb(a) - rss0
        ok(grew < 16 * 1024, "node A's memory stays bounded while Redis is stopped (+%d KB)" % grew)
        redis.resume()
        ok(wait_for(lambda: len(acked) and acked[-1][0] > (refused[-1][0] if refused else 0), 8),
           "after Redis continues, publishes are acknowledged again")
        time.sleep(0.5)
        stop.set()
        t.join()
        ok(len(refused) > 0, "publishes during the stop answered 503 (%d of %d)" %
           (len(refused), len(acked) + len(refused)))
        ok(not other, "no other answer than 200 or 503 (%s)" % other[:3])
        body = refused[0][1].decode(errors="replace") if refused else ""
        ok("Redis" in body or "redis" in body, "the 503 says why: %r" % body[:120])
        note("during the stop: %d acknowledged, %d refused" % (len(acked), len(refused)))
        n_acked = {i for i, _ in acked}
        total = len(acked) + len(refused)
        fc_more = ws_collect(wc, total, 6)
        seen = [f["text"]["n"] for f in fc_more]
        ok(n_acked <= set(seen), "WebSocket on C got every acknowledged message (%d missing)" %
           len(n_acked - set(seen)))
        ok(in_order(fc_more) and len(seen) == len(set(seen)) and seen == sorted(seen),
           "in order, no duplicates")
        got = poll_all(b, cid, fb[-1]["mid"], len(seen))
        ok([f["text"]["n"] for f in got] == seen, "a long-poll client resuming on B gets the same")
        ok(all(n.proc.poll() is None for n in nodes), "no node exited")
        ok(metrics(a).get("pullbox_redis_reconnects_total", 0) >= 1,
           "node A counts its reconnect in /metrics")

        # ---- Redis killed and started again (its data is gone) ----
        last_mid = fc_more[-1]["mid"] if fc_more else fc[-1]["mid"]
        redis.kill()
        time.sleep(0.3)
        st, _, _ = publish_text(b, cid, '{"n":"down"}')
        ok(st == 503, "with Redis gone a publish answers 503 (%s)" % st)
        ok(wait_log(a, "connection lost", 3), "the node logs the lost connection")
        redis.start()
        ok(all(wait_for(lambda n=n: stat_ok(n), 10) for n in nodes),
           "every node reconnects (backoff up to 5 s)")
        st, _, _ = publish_text(b, cid, '{"n":"back"}')
        got = ws_collect(wc, 1, 5)
        ok(st == 200 and [f["text"] for f in got] == [{"n": "back"}] and got[0]["mid"] > last_mid,
           "delivery resumes, with a mid above every earlier one")
        wb.close()
        wc.close()

# ---- cluster-wide presence: channel stats, online status, /server-stat/ ----
def online(srv, cid):
    """Subscribers the text channel stats of srv report for cid (0: offline)."""
    st, _, body = http(srv.pub_port, "GET", "/bitrix/pub/?CHANNEL_ID=" + cid)
    infos = json.loads(body).get("infos", []) if st == 200 else []
    return sum(i["subscribers"] for i in infos if i.get("channel") == cid)


def pb_online(srv, cid):
    batch = pb.request_batch(pb.request_channel_stats([pb.channel_id(bytes.fromhex(cid), True)]))
    st, _, body = http(srv.pub_port, "POST", "/bitrix/pub/?binaryMode=true", batch,
                       headers={"Content-Type": "application/octet-stream"})
    try:
        return [c["isOnline"] for r in pb.decode_response_batch(body)
                for c in r.get("channelStats", [])] if st == 200 else None
    except ValueError:
        return None


hub = Redis()
grace = 3
f = Server(node_conf(hub, "node-f", {"online-grace": grace}), key=key)  # killed below
with Server(node_conf(hub, "node-e", {"online-grace": grace}), key=key) as e:
    ok(wait_for(lambda: stat_ok(e) and stat_ok(f), 5), "nodes E and F joined Redis")
    x = new_id()
    wf1 = ws_sub(f, x)
    ok(wait_for(lambda: online(e, x) == 1, 3),
       "a subscriber on F is seen from E's channel stats within a second or so")
    ok(wait_for(lambda: pb_online(e, x) == [True], 3), "and from E's protobuf channelStats")
    wf2, we = ws_sub(f, x), ws_sub(e, x)
    ok(wait_for(lambda: online(e, x) == 3 and online(f, x) == 3, 3),
       "two on F and one on E: both nodes count 3 (%d, %d)" % (online(e, x), online(f, x)))
    def nodes_seen():
        return [(n.get("node"), n.get("websockets"))
                for n in json.loads(http(e.pub_port, "GET", "/server-stat/")[2])]

    # F's object is its last heartbeat's (every 2 s)
    ok(wait_for(lambda: nodes_seen() == [("node-e", 1), ("node-f", 2)], 5),
       "/server-stat/ on E: E's own object, then F's with its 2 WebSockets (%r)" % nodes_seen())
    up = {k: v for k, v in metrics(e).items() if k.startswith('pullbox_cluster_node_up{node="node-f#')}
    ok(list(up.values()) == [1], "/metrics on E shows node F up (%r)" % up)
    wf1.close()
    wf2.close()
    ok(wait_for(lambda: online(e, x) == 1, 3), "F's two leave: E counts its own one")
    we.close()
    t_left = time.time()
    ok(online(f, x) >= 1, "just after the last one left, F still reports the channel online (grace)")
    ok(wait_for(lambda: online(f, x) == 0 and online(e, x) == 0, grace + 3) and
       time.time() - t_left >= grace - 0.5,
       "offline on both nodes once online-grace (%d s) passed (%.1f s)" % (grace, time.time() - t_left))

    # a node that joins later hears what the others hold
    y = new_id()
    wy = ws_sub(e, y)
    with Server(node_conf(hub, "node-g", {"online-grace": grace}), key=key) as g:
        ok(wait_for(lambda: stat_ok(g) and online(g, y) == 1, 5),
           "a node started later sees a subscriber that was on E before it came")
    wy.close()

    # a node killed: its subscribers count as gone once it missed heartbeats
    z = new_id()
    wz = ws_sub(f, z)
    ok(wait_for(lambda: online(e, z) == 1, 3), "a subscriber on F is seen from E")
    f.proc.kill()
    f.proc.wait()
    ok(f.sanitizer_clean(), "node F ran with no sanitizer report until it was killed")
    t_kill = time.time()
    wz.close()
    ok(wait_for(lambda: online(e, z) == 0, 10 + grace + 5),
       "F killed: E reports the channel offline once F missed heartbeats for 10 s and the grace "
       "passed (%.1f s)" % (time.time() - t_kill))
    up = {k: v for k, v in metrics(e).items() if k.startswith('pullbox_cluster_node_up{node="node-f#')}
    ok(list(up.values()) in ([], [0]), "and /metrics no longer shows F up (%r)" % up)
    ok(len(json.loads(http(e.pub_port, "GET", "/server-stat/")[2])) == 1,
       "/server-stat/ on E lists E alone")
if f.proc.poll() is None:
    f.proc.kill()
hub.kill()

# ---- authentication ----
locked = Redis(password="right-password")
with Server(node_conf(locked, "wrong", {"redis-password": "not-it"}), key=key) as n:
    ok(wait_log(n, "authentication refused (check redis-user and redis-password)", 5),
       "a wrong redis-password is refused with a clear log line")
    ok(publish_text(n, new_id(), "x")[0] == 503, "and publishes answer 503")
with Server(node_conf(locked, "nopass"), key=key) as n:
    ok(wait_log(n, "Redis requires a password (set redis-password)", 5),
       "a missing redis-password is named in the log")
with Server(node_conf(locked, "right", {"redis-password": "right-password"}), key=key) as n:
    wait_for(lambda: stat_ok(n), 5)
    ok(publish_text(n, new_id(), "x")[0] == 200, "the right password publishes")
locked.kill()
redis.kill()

# ---- settings ----
for conf, text in (({"redis": "unix:relative"}, "unix: needs an absolute socket path"),
                   ({"redis": "127.0.0.1:1", "journal-path": "/tmp/x"}, "set one"),
                   ({"redis": "host:99999"}, "is not host:port"),
                   ({"node-name": "a b"}, "node-name")):
    refused_at_start(conf, text)
done()
