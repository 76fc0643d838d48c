#!/usr/bin/env python3
"""max-input-memory: many clients that each send a large body slowly (just
under max-body-size, never finished) no longer make pullboxd hold one body
per connection. Past the budget a request that needs a larger buffer gets
503 (a WebSocket message in fragments: close 1013); RSS stays bounded; when
the senders go, large requests are taken again; a WebSocket witness receives
every message in order throughout."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, ok, note, done, new_id, connect, publish_text, http,  # noqa: E402
                    vm_rss_kib, server_from, OUT)
from wsclient import WSClient, OP_TEXT, OP_CONT  # noqa: E402
from wsreader import WSReader  # noqa: E402

BUDGET = 1 << 20
HEAD = ("POST /bitrix/rest/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
        % (1000 * 1000)).encode()


def slow_sender(port, body_bytes):
    """A client publish whose body never completes."""
    s = connect(port, timeout=5)
    s.sendall(HEAD)
    sent = 0
    s.settimeout(2)
    try:
        while sent < body_bytes:
            sent += s.send(b"x" * min(65536, body_bytes - sent))
    except OSError:
        pass
    return s


def answered(s, timeout=1.0):
    """The status the server answered on s, or None while it holds it."""
    s.settimeout(timeout)
    try:
        data = s.recv(4096)
    except socket.timeout:
        return None
    except OSError:
        return "reset"
    if not data:
        return "closed"
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return data[:20]


def witness_check(srv, w, n0, desc):
    n = n0
    for _ in range(3):
        publish_text(srv, w.cid, json.dumps({"module_id": "t", "command": "w", "params": {"n": n}}),
                     expiry=600)
        n += 1
    w.r.wait_for(n, 10)
    ok(w.r.ns == list(range(n)) and w.r.is_alive(),
       "the witness received all %d messages in order %s (%d)" % (n, desc, len(w.r.ns)))
    return n


class W:
    def __init__(self, srv):
        self.cid = new_id()
        self.r = WSReader(srv, self.cid)


def functional(srv):
    w = W(srv)
    n = witness_check(srv, w, 0, "before")
    # one at a time, each given time to be read in: senders that arrive
    # together grow their buffers together and may all pass the budget
    # half-way, so which are held would depend on the machine's load
    senders = []
    for _ in range(10):
        senders.append(slow_sender(srv.sub_port, 200 * 1024))
        time.sleep(0.3)
    time.sleep(0.5)
    states = [answered(s) for s in senders]
    note("10 slow 1 MB bodies at 200 KiB each: %s" % states)
    busy = [st for st in states if st == 503]
    held = [st for st in states if st is None]
    ok(len(busy) >= 3 and len(held) >= 2,
       "past max-input-memory (1 MiB) further large requests get 503 (%d), the first are held (%d)"
       % (len(busy), len(held)))
    n = witness_check(srv, w, n, "while the budget is full")

    # a WebSocket message in fragments wants a buffer too: close 1013
    c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(new_id()))
    for i in range(60):  # up to 720 KB, under max-ws-frame-size
        try:
            c.send_frame(OP_CONT if i else OP_TEXT, b"y" * 12000, fin=False)
        except OSError:
            break
    got = c.wait_close(5)
    ok(got is not None and got[0] == 1013,
       "a WebSocket message in fragments past the budget: close 1013 (%s)" % (got,))
    c.shutdown()

    for s in senders:
        s.close()
    time.sleep(0.5)
    st, _, _ = http(srv.sub_port, "POST", "/bitrix/rest/", b"z" * (200 * 1024))
    ok(st != 503, "with the senders gone a 200 KiB request is taken again (%s)" % st)
    witness_check(srv, w, n, "after")
    w.r.finish()


def rss(binary):
    with server_from(binary, {"max-input-memory": BUDGET, "workers": 1,
                              "header-timeout": 60}) as srv:
        for i in range(20):
            publish_text(srv, new_id(), "x" * 1000)
        rss0 = vm_rss_kib(srv.pid)
        senders = [slow_sender(srv.sub_port, 900 * 1024) for _ in range(40)]
        time.sleep(0.5)
        peak = vm_rss_kib(srv.pid)
        note("40 slow 1 MB bodies at 900 KiB each: RSS %d KiB -> %d KiB (+%d KiB)" % (
            rss0, peak, peak - rss0))
        ok(peak - rss0 < 8 * 1024, "RSS grew by less than 8 MiB (+%d KiB; one body each would be "
           "~36 MiB)" % (peak - rss0))
        for s in senders:
            s.close()


def main():
    with Server({"max-input-memory": BUDGET, "workers": 1, "header-timeout": 60}) as srv:
        try:
            functional(srv)
        except Exception as e:  # noqa: BLE001
            import traceback
            note(traceback.format_exc())
            ok(False, "functional part ran to its end (%s: %s)" % (type(e).__name__, e))
    plain = os.environ.get("PULLBOX_BIN") or os.path.join(OUT, "pullboxd")
    if os.path.exists(plain) and not plain.endswith("-san"):
        rss(plain)
    else:
        ok(True, "# SKIP no plain build for the RSS check")
    done()


if __name__ == "__main__":
    main()
