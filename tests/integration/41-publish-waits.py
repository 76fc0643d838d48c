#!/usr/bin/env python3
"""A publisher faster than the fan-outs is slowed to them, nothing is lost:
past max-queued-deliveries (deliveries queued to subscribers, not yet
written) a publish to a big channel waits, unread, until the fan-outs before
it have caught up, while /health and a publish to a small channel are served.

Forty publishes to a channel of 300 WebSocket subscribers go pipelined on one
keep-alive connection, so the server reads them in one turn and, without the
bound, queues 12,000 deliveries at once. With max-queued-deliveries = 1000
most of them wait (pullbox_publish_waits_total), the queue stays within the
bound plus one fan-out, every publish is answered 200 in order, every
subscriber gets all forty once and in order, and the queue is empty after.
Run with one worker and with two (the publish port's worker adds up the
others')."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, build_request, connect, done, http, metrics, new_id, note, ok,  # noqa: E402
                    publish_text, read_response, server_stat, text_frames, wait_for)
from wsclient import OP_TEXT, WSClient  # noqa: E402
from wsreader import WSReader  # noqa: E402

SUBS = 300  # past the 256 a channel may have and be written at once
N = 40
MAXQ = 1000


def messages(client, want, timeout=30):
    """The "n" of each message client gets, until want of them or timeout."""
    ns = []
    while len(ns) < want:
        m = client.recv_message(timeout)
        if m is None or m[0] != OP_TEXT:
            break
        ns += [f["text"]["params"]["n"] for f in text_frames(m[1])]
    return ns


def run(workers):
    conf = {"workers": workers, "max-queued-deliveries": MAXQ, "max-connections-per-address": 0,
            "log-level": "warn"}
    with Server(conf) as srv:
        big, small = new_id(), new_id()
        subs = [WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(big), timeout=30)
                for _ in range(SUBS)]
        lone = WSReader(srv, small)
        ok(wait_for(lambda: server_stat(srv)["websockets"] == SUBS + 1, timeout=20),
           "workers %d: %d subscribers on one channel, one on another" % (workers, SUBS))
        waits_before = metrics(srv).get("pullbox_publish_waits_total", 0)

        pub = connect(srv.pub_port, timeout=30)
        pub.sendall(b"".join(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + big,
                                           json.dumps({"params": {"n": i}})) for i in range(N)))
        health = http(srv.pub_port, "GET", "/health")[0]
        small_st = publish_text(srv, small, json.dumps({"params": {"n": "small"}}))[0]
        peak, statuses = 0, []
        for _ in range(N):
            peak = max(peak, metrics(srv).get("pullbox_deliveries_queued", 0))
            statuses.append(read_response(pub, "POST")[0])
        pub.close()
        ok(health == 200 and small_st == 200,
           "workers %d: /health and a small channel's publish are answered meanwhile" % workers)
        ok(lone.wait_for(1, 10) and lone.ns == ["small"],
           "workers %d: the small channel's subscriber gets its message" % workers)
        ok(statuses == [200] * N, "workers %d: all %d publishes answered 200 (%s)"
           % (workers, N, sorted(set(statuses))))
        waits = metrics(srv).get("pullbox_publish_waits_total", 0) - waits_before
        note("workers %d: %d publish waits, at most %d deliveries queued when sampled"
             % (workers, waits, peak))
        ok(waits > 0, "workers %d: publishes past the bound waited (pullbox_publish_waits_total)"
           % workers)
        ok(peak <= MAXQ + SUBS, "workers %d: the queue stays within max-queued-deliveries and one "
           "fan-out (%d)" % (workers, peak))
        got = [messages(c, N) for c in subs]
        bad = [g for g in got if g != list(range(N))]
        ok(not bad, "workers %d: every subscriber gets all %d messages once, in order (%d do not%s)"
           % (workers, N, len(bad), ": " + repr(bad[0][:12]) if bad else ""))
        ok(wait_for(lambda: metrics(srv).get("pullbox_deliveries_queued", -1) == 0, timeout=5),
           "workers %d: nothing stays queued once all is written" % workers)
        lone.finish()
        for c in subs:
            c.shutdown()


run(1)
run(2)
done()
