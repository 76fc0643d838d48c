#!/usr/bin/env python3
"""Backpressure: a client that sends requests or pings and never reads the
answers. The server stops reading it once a little output is queued (its
sends block), so pullboxd's memory stays bounded; after send-timeout without
taking any output it is closed (pullbox_drops_total{reason="send_timeout"}).
Checked for pipelined OPTIONS on the subscribe port, over TLS, on the publish
port, and for WebSocket pings whose pongs are never read; through each attack
a WebSocket subscriber on the same server receives every message in order.

RSS is judged on the plain build (ASan's quarantine keeps freed memory
resident); the sanitized build runs the same attacks, smaller."""
import json
import os
import socket
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (ok, note, done, new_id, connect, publish_text,  # noqa: E402
                    metrics, make_cert, tls_conf, tls_port, tls_client_context, tls_connect,
                    vm_rss_kib, wait_for, server_from, OUT)
from wsclient import WSClient, build_frame, OP_PING  # noqa: E402
from wsreader import WSReader  # noqa: E402

SEND_TIMEOUT = 3
# what the old server held for such a flood: about 9 bytes per byte sent
RSS_BOUND_KIB = 16 * 1024


class Flood(threading.Thread):
    """Sends `unit` over and over on sock without ever reading, up to
    `total` bytes; stops once a send has been blocked for `stuck` seconds
    (the server stopped reading) or after `limit` seconds."""

    def __init__(self, sock, unit, total, stuck=1.5, limit=30):
        super().__init__(daemon=True)
        reps = max(1, 65536 // len(unit))
        self.chunk = unit * reps
        self.sock, self.total, self.stuck, self.limit = sock, total, stuck, limit
        self.sent = 0
        self.blocked = False
        self.start()

    def run(self):
        self.sock.settimeout(self.stuck)
        t0 = time.time()
        while self.sent < self.total and time.time() - t0 < self.limit:
            try:
                n = self.sock.send(self.chunk)
            except (socket.timeout, ssl.SSLWantWriteError):
                self.blocked = True
                return
            except OSError:
                return
            self.sent += n


def attack(srv, label, sock, unit, total, judge_rss, after_block=None):
    """Runs one flood while publishing to a witness; checks memory, the
    witness and that the flooding connection is closed by send-timeout."""
    cid = new_id()
    w = WSReader(srv, cid)
    ok(w.c.status == 101, "%s: the witness subscriber is connected" % label)
    drops0 = metrics(srv).get('pullbox_drops_total{reason="send_timeout"}')
    rss0 = vm_rss_kib(srv.pid)
    peak = rss0
    f = Flood(sock, unit, total)
    sent = 0
    t0 = time.time()
    while f.is_alive() and time.time() - t0 < 40:
        st, _, _ = publish_text(srv, cid, json.dumps(
            {"module_id": "t", "command": "w", "params": {"n": sent}}), expiry=600)
        if st == 200:
            sent += 1
        peak = max(peak, vm_rss_kib(srv.pid) or 0)
        time.sleep(0.05)
    f.join(5)
    if after_block:
        after_block()
    peak = max(peak, vm_rss_kib(srv.pid) or 0)
    note("%s: sent %d KiB in %.1fs (blocked: %s); RSS %d KiB -> peak %d KiB (+%d KiB)" % (
        label, f.sent // 1024, time.time() - t0, f.blocked, rss0, peak, peak - rss0))
    ok(f.blocked and f.sent < total,
       "%s: the server stopped reading: sends block after %d KiB (of %d KiB offered)" % (
           label, f.sent // 1024, total // 1024))
    if judge_rss:
        ok(peak - rss0 < RSS_BOUND_KIB, "%s: RSS grew by less than %d MiB (+%d KiB)" % (
            label, RSS_BOUND_KIB // 1024, peak - rss0))
    # the flooding connection takes nothing: closed after send-timeout. Not
    # always SEND_TIMEOUT after the flood: while its window is shut, the
    # kernel's zero-window probes (backing off: 0.2, 0.4, 0.8 s ...) can still
    # let a few bytes through now and then, and each byte taken is progress
    # that restarts the timeout (as nginx's send_timeout); seen up to 14 s
    closed = wait_for(lambda: (metrics(srv).get('pullbox_drops_total{reason="send_timeout"}') or 0)
                      > (drops0 or 0), SEND_TIMEOUT + 40, 0.2)
    ok(closed, "%s: the connection that never reads is closed by send-timeout (%s -> %s)" % (
        label, drops0, metrics(srv).get('pullbox_drops_total{reason="send_timeout"}')))
    for i in range(3):
        publish_text(srv, cid, json.dumps({"module_id": "t", "command": "w",
                                           "params": {"n": sent}}), expiry=600)
        sent += 1
    wait_for(lambda: len(w.ns) >= sent, 10)
    ok(w.ns == list(range(sent)) and w.is_alive(),
       "%s: the witness received all %d messages in order (%d)" % (label, sent, len(w.ns)))
    w.finish()
    sock.close()


def start(binary, cert, key):
    return server_from(binary, dict(tls_conf(cert, key), **{
        "send-timeout": SEND_TIMEOUT, "ws-ping-interval": 60, "header-timeout": 60,
        "idle-timeout": 120, "longpoll-timeout": 60}))


def ws_flooder(srv):
    c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(new_id()))
    return c.sock if c.status == 101 else None


def run(binary, judge_rss, total):
    """Each attack on a server of its own, so that memory one attack left
    in the allocator cannot hide the next one's growth."""
    kind = "plain build" if judge_rss else "sanitized build"
    cert, key = make_cert(tempfile.mkdtemp(prefix="pullbox-46-"))
    ctx = tls_client_context(cafile=cert)
    options = b"OPTIONS /bitrix/sub/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    held = new_id()

    def behind_long_poll(srv):
        s = connect(srv.sub_port)
        s.sendall(("GET /bitrix/sub/?CHANNEL_ID=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (
            srv.signed(held))).encode())
        return s

    def end_long_poll(srv):
        # answers the held poll: the requests behind it are served next,
        # and their answers are never read either
        return lambda: publish_text(srv, held, json.dumps({"end": 1}))

    cases = (
        ("8893 pipelined OPTIONS", lambda srv: connect(srv.sub_port), options),
        ("8893 OPTIONS pipelined behind a held long poll", behind_long_poll, options),
        ("8894 (TLS) pipelined OPTIONS", lambda srv: tls_connect(tls_port(srv), ctx), options),
        ("8895 pipelined GET /health", lambda srv: connect(srv.pub_port),
         b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        ("8893 WebSocket pings, pongs unread", ws_flooder, build_frame(OP_PING, b"p" * 125)),
    )
    for label, open_sock, unit in cases:
        with start(binary, cert, key) as srv:
            for i in range(50):  # warm up the allocator
                publish_text(srv, new_id(), "x" * 1000)
            sock = open_sock(srv)
            ok(sock is not None, "%s, %s: connected" % (kind, label))
            attack(srv, "%s, %s" % (kind, label), sock, unit, total, judge_rss,
                   end_long_poll(srv) if open_sock is behind_long_poll else None)
            st, _, _ = publish_text(srv, new_id(), "after")
            ok(st == 200, "%s, %s: the server still publishes after the flood" % (kind, label))


def main():
    plain = os.environ.get("PULLBOX_BIN") or os.path.join(OUT, "pullboxd")
    san = os.path.join(OUT, "pullboxd-san")
    # RSS is judged on a plain build only (ASan's quarantine keeps freed memory)
    for binary, judge, total in ((san, False, 8 << 20),
                                 (plain, not plain.endswith("-san"), 24 << 20)):
        if not os.path.exists(binary):
            ok(True, "# SKIP no build at %s" % binary)
            continue
        try:
            run(binary, judge, total)
        except Exception as e:  # noqa: BLE001
            import traceback
            note(traceback.format_exc())
            ok(False, "%s ran to its end (%s: %s)" % (binary, type(e).__name__, e))
    done()


if __name__ == "__main__":
    main()
