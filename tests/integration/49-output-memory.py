#!/usr/bin/env python3
"""max-output-memory: output queued to all connections together is bounded.
Many WebSocket subscribers that never read, each under max-output-buffer,
together pass a small budget: the ones holding the most are dropped first, each
with close 1013 and a reason naming the setting, while those holding less and a
reading witness are served on (the witness gets every message in order). A
dropped one that reconnects with its last mid catches up from history, losing
nothing. /metrics counts the drops and shows the bytes queued, which stay near
the budget, and pullboxd's resident memory stays bounded (with history bounded
too, so that the queues are what would hold the memory). A message queued
to many connections counts once: never-readers sharing one channel's
messages are not dropped while those messages fit the budget."""
import json
import os
import re
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (OUT, Server, ok, note, done, new_id, http, connect, build_request,  # noqa: E402
                    server_from, text_frames, vm_rss_kib, make_cert, tls_conf, tls_port,
                    tls_client_context)
from wsclient import WSClient, TLSWSClient, OP_TEXT, OP_CLOSE  # noqa: E402
from wsreader import WSReader  # noqa: E402

MSG_SIZE = 64 * 1024
# the kernel takes about 3 MB into a loopback socket's buffers before
# pullboxd queues anything: each never-reader gets more than that, while
# max-output-buffer is set above what any one of them holds
OBUF = 32 << 20
MIB = 1 << 20


def metric(srv, name, labels=""):
    st, _, b = http(srv.pub_port, "GET", "/metrics")
    if st != 200:
        return None
    m = re.search(r"(?m)^" + re.escape(name + labels) + r" ([0-9.e+-]+)$", b.decode())
    return float(m.group(1)) if m else None


class Publisher:
    """Sequential publishes on one keep-alive connection."""

    def __init__(self, srv, size=MSG_SIZE):
        self.s = connect(srv.pub_port, timeout=10)
        self.rest = b""
        self.size = size

    def publish(self, ids, n):
        body = json.dumps({"module_id": "t", "command": "big",
                           "params": {"n": n, "pad": "x" * (self.size - 80)}})
        self.s.sendall(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + "/".join(ids), body,
                                     {"Message-Expiry": "600"}))
        buf = self.rest
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("publish port closed")
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))
        while len(rest) < length:
            rest += self.s.recv(65536)
        self.rest = rest[length:]
        return int(head.split()[1])

    def close(self):
        self.s.close()


def slow_subscriber(srv, cid, extra=""):
    return WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid) + extra,
                    rcvbuf=4096)


def drain(c, timeout=10):
    """Everything a never-read subscriber gets once it reads, until a close or
    a second of silence: (the n of each message in order, their mids, the
    close frame or None)."""
    ns, mids, close = [], [], None
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = c.recv_message(1.0)
        if m is None:
            break
        if m[0] == OP_CLOSE:
            close = m
            break
        if m[0] == OP_TEXT:
            for f in text_frames(m[1]):
                ns.append(f["text"]["params"]["n"])
                mids.append(f["mid"])
    return ns, mids, close


def close_code(payload):
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None


def behaviour():
    """Largest first, the reason, the witness, the catch-up, the metrics."""
    budget = 1
    with Server({"max-output-memory": budget, "max-output-buffer": OBUF, "workers": 1}) as srv:
        witness_cid = new_id()
        witness = WSReader(srv, witness_cid)
        heavy = [new_id() for _ in range(6)]   # a message every round
        light = [new_id() for _ in range(6)]   # a message every 8th round
        subs = {cid: slow_subscriber(srv, cid) for cid in heavy + light}
        ok(witness.c.status == 101 and all(c.status == 101 for c in subs.values()),
           "a reading witness and 12 never-reading subscribers are connected")
        ok(metric(srv, "pullbox_output_budget_bytes") == budget * MIB,
           "/metrics shows max-output-memory in bytes (%s)" % metric(srv, "pullbox_output_budget_bytes"))
        pub = Publisher(srv)
        sent = {cid: [] for cid in subs}
        statuses, n, peak = set(), 0, 0.0
        for rnd in range(90):
            targets = heavy + (light if rnd % 8 == 0 else [])
            for cid in targets:
                statuses.add(pub.publish([cid, witness_cid], n))
                sent[cid].append(n)
                n += 1
                witness.wait_for(n - 1, 5)  # paced by the witness: it must not fall behind
            peak = max(peak, metric(srv, "pullbox_output_queued_bytes") or 0)
        pub.close()
        note("published %d messages of %d KB; peak pullbox_output_queued_bytes %d KB" % (
            n, MSG_SIZE // 1024, peak // 1024))
        ok(statuses == {200}, "every publish answered 200 (%s)" % statuses)
        ok(witness.wait_for(n, 20) and witness.ns == list(range(n)),
           "the reading witness received all %d messages in order (%d)" % (n, len(witness.ns)))
        ok(0 < peak <= budget * MIB + 256 * 1024,
           "bytes queued stayed near max-output-memory (peak %d KB, budget %d KB)" % (
               peak // 1024, budget * MIB // 1024))
        drops = metric(srv, "pullbox_drops_total", '{reason="output_memory"}')
        slow = metric(srv, "pullbox_drops_total", '{reason="slow_reader"}')
        ok(slow == 0, "no connection reached max-output-buffer on its own (slow_reader %s)" % slow)

        got = {cid: drain(c) for cid, c in subs.items()}
        dropped = [cid for cid in subs if got[cid][2] is not None]
        ok(set(dropped) == set(heavy),
           "the 6 holding the most were dropped, the 6 holding less were not (%d heavy, %d light)" % (
               len([c for c in dropped if c in heavy]), len([c for c in dropped if c in light])))
        ok(drops == len(dropped), "pullbox_drops_total{reason=\"output_memory\"} = %s, the %d dropped" % (
            drops, len(dropped)))
        for cid in dropped:
            payload = got[cid][2][1]
            reason = payload[2:].decode(errors="replace")
            ok(close_code(payload) == 1013 and "max-output-memory" in reason,
               "a dropped one gets close 1013 naming the setting (%s %r)" % (close_code(payload), reason))
            break
        for cid in light:
            ns = got[cid][0]
            ok(ns == sent[cid], "one holding less, when it reads, has all %d of its messages in order (%d)" % (
                len(sent[cid]), len(ns)))
            break
        # what a dropped one missed is in history: it resumes from its last mid
        for cid in dropped[:2]:
            ns, mids, _ = got[cid]
            ok(ns == sent[cid][:len(ns)], "before its close it got a prefix of its messages (%d of %d)" % (
                len(ns), len(sent[cid])))
            c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid) +
                         ("&mid=" + mids[-1] if mids else ""))
            more = []
            deadline = time.time() + 10
            while len(ns) + len(more) < len(sent[cid]) and time.time() < deadline:
                m = c.recv_message(0.5)
                if m and m[0] == OP_TEXT:
                    more += [f["text"]["params"]["n"] for f in text_frames(m[1])]
            c.shutdown()
            ok(ns + more == sent[cid], "reconnected with its last mid, it caught up: %d + %d = %d in order" % (
                len(ns), len(more), len(sent[cid])))
        ok(http(srv.pub_port, "GET", "/health")[0] == 200, "the server is healthy")
        # a reload takes a new budget (no restart)
        srv.write_conf({"max-output-memory": 3})
        srv.signal(signal.SIGHUP)
        deadline = time.time() + 5
        while metric(srv, "pullbox_output_budget_bytes") != 3 * MIB and time.time() < deadline:
            time.sleep(0.1)
        ok(metric(srv, "pullbox_output_budget_bytes") == 3 * MIB, "SIGHUP applies a new max-output-memory")
        witness.finish()
        for c in subs.values():
            c.shutdown()


def memory():
    """With history bounded, the queues of never-reading subscribers are what
    would hold memory: the budget bounds pullboxd's resident memory."""
    budget = 2
    plain = os.environ.get("PULLBOX_BIN") or os.path.join(OUT, "pullboxd")
    if not os.path.exists(plain):
        ok(True, "# SKIP no plain build at %s for the RSS check" % plain)
        return
    with server_from(plain, {"max-output-memory": budget, "max-output-buffer": OBUF,
                             "history-memory": 4}) as srv:
        cids = [new_id() for _ in range(16)]
        subs = [slow_subscriber(srv, cid) for cid in cids]
        witness_cid = new_id()
        witness = WSReader(srv, witness_cid)
        ok(all(c.status == 101 for c in subs) and witness.c.status == 101,
           "16 never-reading subscribers and a witness are connected")
        pub = Publisher(srv)
        rss0, rss_peak, peak = vm_rss_kib(srv.pid), 0, 0.0
        n = 0
        # 80 messages of 64 KB each: 5 MB per subscriber (under
        # max-output-buffer), 80 MB in all, 4 MB of which history keeps
        for rnd in range(80):
            for cid in cids:
                pub.publish([cid], n)
                n += 1
            pub.publish([witness_cid], rnd)
            rss_peak = max(rss_peak, vm_rss_kib(srv.pid))
            if rnd % 4 == 3:
                peak = max(peak, metric(srv, "pullbox_output_queued_bytes") or 0)
        pub.close()
        grown = (rss_peak - rss0) // 1024
        note("published %d x %d KB: RSS %d MB -> peak %d MB; peak queued %d KB" % (
            n, MSG_SIZE // 1024, rss0 // 1024, rss_peak // 1024, peak // 1024))
        ok(grown < 40, "resident memory grew by %d MB (< 40; without the bound: 78)" % grown)
        ok(peak <= budget * MIB + 256 * 1024, "bytes queued stayed near the budget (peak %d KB)" % (peak // 1024))
        ok(witness.wait_for(80, 20) and witness.ns == list(range(80)),
           "the witness received its 80 messages in order (%d)" % len(witness.ns))
        rss_metric = metric(srv, "pullbox_process_resident_bytes")
        fds = metric(srv, "pullbox_process_open_fds")
        real_fds = len(os.listdir("/proc/%d/fd" % srv.pid))
        ok(rss_metric is not None and abs(rss_metric / 1024 - vm_rss_kib(srv.pid)) < 8 * 1024,
           "pullbox_process_resident_bytes is pullboxd's RSS (%s KB, /proc says %d KB)" % (
               rss_metric and rss_metric // 1024, vm_rss_kib(srv.pid)))
        ok(fds is not None and abs(fds - real_fds) <= 2,
           "pullbox_process_open_fds counts its descriptors (%s, /proc says %d)" % (fds, real_fds))
        ok((metric(srv, "pullbox_process_max_fds") or 0) >= real_fds,
           "pullbox_process_max_fds is its descriptor limit (%s)" % metric(srv, "pullbox_process_max_fds"))
        witness.finish()
        for c in subs:
            c.shutdown()


def over_tls():
    """On 8894 the queue is cut where TLS can resume: a dropped wss client
    still reads whole frames, then the close. Messages smaller than a TLS
    record (16 KiB), so that the frame being written is shorter than the
    record OpenSSL retries."""
    tmp = tempfile.mkdtemp(prefix="pullbox-49-")
    cert, key = make_cert(tmp)
    conf = tls_conf(cert, key, **{"max-output-memory": 1, "max-output-buffer": OBUF, "workers": 1})
    with Server(conf) as srv:
        ctx = tls_client_context(cert)
        cids = [new_id() for _ in range(2)]
        subs = {cid: TLSWSClient(tls_port(srv), "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid), ctx,
                                 rcvbuf=4096) for cid in cids}
        witness_cid = new_id()
        witness = WSReader(srv, witness_cid)
        ok(all(c.status == 101 for c in subs.values()), "2 never-reading wss subscribers are connected")
        pub = Publisher(srv, 6000)
        sent = {cid: [] for cid in cids}
        n = 0
        for rnd in range(800):
            for cid in cids:
                pub.publish([cid, witness_cid], n)
                sent[cid].append(n)
                n += 1
            if rnd % 20 == 0:
                witness.wait_for(n - 40, 5)
        pub.close()
        ok(witness.wait_for(n, 20) and witness.ns == list(range(n)),
           "the witness received all %d messages in order (%d)" % (n, len(witness.ns)))
        drops = metric(srv, "pullbox_drops_total", '{reason="output_memory"}')
        ok(drops and drops >= 1, "wss subscribers were dropped for max-output-memory (%s)" % drops)
        closed = 0
        for cid, c in subs.items():
            ns, _, close = drain(c)
            if close is None:
                continue
            closed += 1
            ok(ns == sent[cid][:len(ns)] and close_code(close[1]) == 1013,
               "a dropped wss client read %d whole messages in order, then close 1013" % len(ns))
        ok(closed == drops, "each one dropped got its close (%d of %s)" % (closed, drops))
        witness.finish()
        for c in subs.values():
            c.shutdown()


def shared_catch_up():
    """One message queued to many connections takes its bytes once: many
    never-reading subscribers of one channel hold far more than the budget
    counted per connection, but the messages they share take less than it,
    and none of them is dropped (as in a reconnect storm, where every client
    is handed the same catch-up at once)."""
    budget, subs_n, msgs, size = 48, 24, 2000, 4096
    with Server({"max-output-memory": budget, "max-output-buffer": OBUF, "workers": 1,
                 "history-length": 100}) as srv:
        cid, witness_cid = new_id(), new_id()
        witness = WSReader(srv, witness_cid)
        subs = [slow_subscriber(srv, cid) for _ in range(subs_n)]
        ok(witness.c.status == 101 and all(c.status == 101 for c in subs),
           "%d never-reading subscribers of one channel and a witness are connected" % subs_n)
        pub = Publisher(srv, size)
        statuses, peak = set(), 0.0
        for n in range(msgs):
            statuses.add(pub.publish([cid, witness_cid], n))
            if n % 100 == 99:
                peak = max(peak, metric(srv, "pullbox_output_queued_bytes") or 0)
        pub.close()
        note("%d x %d KB to %d never-readers: peak held %d MB (counted per connection), budget %d MB"
             % (msgs, size // 1024, subs_n, peak // MIB, budget))
        ok(statuses == {200}, "every publish answered 200 (%s)" % statuses)
        ok(peak > 2 * budget * MIB,
           "counted per connection they held more than twice the budget (%d MB)" % (peak // MIB))
        drops = metric(srv, "pullbox_drops_total", '{reason="output_memory"}')
        ok(drops == 0, "none was dropped for max-output-memory (%s)" % drops)
        ok(witness.wait_for(msgs, 20) and witness.ns == list(range(msgs)),
           "the witness received all %d messages in order (%d)" % (msgs, len(witness.ns)))
        for c in subs[:2]:
            ns, _, close = drain(c, 60)
            ok(ns == list(range(msgs)) and close is None,
               "a never-reader, once it reads, has all %d messages in order (%d)" % (msgs, len(ns)))
        witness.finish()
        for c in subs:
            c.shutdown()


behaviour()
memory()
over_tls()
shared_catch_up()
done()
