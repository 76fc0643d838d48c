#!/usr/bin/env python3
"""EventSource subscriptions (text/event-stream) for non-Bitrix clients:
/bitrix/events/ and Accept: text/event-stream on the sub paths, retry:,
id:/data: events (multi-line bodies as several data: lines), catch-up by
Last-Event-ID, bad signatures."""
import base64
import hashlib
import hmac
import json
import os
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import Server, ok, note, done, new_id, connect, build_request, publish_text, http  # noqa: E402


class SSE:
    """An EventSource client: parses the stream the way the HTML standard's
    event stream interpretation does (lines end in CRLF, LF or CR)."""

    def __init__(self, srv, path, headers=None, method="GET"):
        self.s = connect(srv.sub_port, timeout=5)
        self.s.sendall(build_request(method, path, headers=headers))
        self.raw = b""
        self.buf = b""
        self.status = None
        self.headers = {}
        self.body = b""
        self.events = []
        self.retry = None
        self.comments = 0
        self.eof = False
        self._data, self._id, self._type = [], None, None
        self.last_id = None
        self._read_head()

    def _recv(self, timeout):
        r, _, _ = select.select([self.s], [], [], max(0.0, timeout))
        if not r:
            return None
        try:
            chunk = self.s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            chunk = b""
        if not chunk:
            self.eof = True
        self.raw += chunk
        return chunk

    def _read_head(self):
        deadline = time.time() + 5
        while b"\r\n\r\n" not in self.buf and not self.eof and time.time() < deadline:
            c = self._recv(deadline - time.time())
            if c:
                self.buf += c
        if b"\r\n\r\n" not in self.buf:
            raise ConnectionError("no response head: %r" % self.buf[:200])
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        if self.status != 200:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n and not self.eof:
                c = self._recv(2)
                if c is None:
                    break
                self.buf += c
            self.body = self.buf[:n]

    def _lines(self):
        """Complete lines from buf (CRLF, LF or lone CR ends a line)."""
        while True:
            m = re.search(rb"\r\n|\n|\r", self.buf)
            if not m:
                return
            # a CR at the very end may be the first half of CRLF: wait
            if m.group() == b"\r" and m.end() == len(self.buf) and not self.eof:
                return
            line = self.buf[:m.start()]
            self.buf = self.buf[m.end():]
            yield line.decode("utf-8", errors="replace")

    def _feed(self):
        for line in self._lines():
            if line == "":
                if self._data:
                    self.events.append({"id": self.last_id, "data": "\n".join(self._data),
                                        "event": self._type or "message"})
                self._data, self._type = [], None
                continue
            if line.startswith(":"):
                self.comments += 1
                continue
            if ":" in line:
                field, value = line.split(":", 1)
                if value.startswith(" "):
                    value = value[1:]
            else:
                field, value = line, ""
            if field == "data":
                self._data.append(value)
            elif field == "id":
                self.last_id = value
            elif field == "event":
                self._type = value
            elif field == "retry" and value.isdigit():
                self.retry = int(value)

    def wait(self, n, timeout=3):
        """Until n events have been parsed (or timeout / EOF). Returns events."""
        deadline = time.time() + timeout
        self._feed()
        while len(self.events) < n and not self.eof and time.time() < deadline:
            c = self._recv(deadline - time.time())
            if c:
                self.buf += c
                self._feed()
        return self.events

    def pump(self, seconds):
        deadline = time.time() + seconds
        self._feed()
        while not self.eof and time.time() < deadline:
            c = self._recv(deadline - time.time())
            if c:
                self.buf += c
                self._feed()

    def close(self):
        self.s.close()


def main():
    with Server({"ws-ping-interval": 1}) as srv:
        for fn in (basics, multiline, catchup, errors, v5_token):
            try:
                fn(srv)
            except Exception as e:  # noqa: BLE001
                import traceback
                note(traceback.format_exc())
                ok(False, "%s ran to its end (%s: %s)" % (fn.__name__, type(e).__name__, e))
    done()


def body(n):
    return json.dumps({"module_id": "t", "command": "c", "params": {"n": n}})


def basics(srv):
    cid = new_id()
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid))
    ok(es.status == 200, "GET /bitrix/events/ answers 200 (%s)" % es.status)
    ok(es.headers.get("content-type", "").startswith("text/event-stream"),
       "Content-Type: text/event-stream (%s)" % es.headers.get("content-type"))
    ok("content-length" not in es.headers, "no Content-Length on a stream")
    ok(es.headers.get("access-control-allow-origin") == "*", "CORS header present")
    es.pump(0.3)
    ok(es.retry is not None and es.retry > 0, "a retry: line comes first (%s)" % es.retry)
    ok(es.raw.split(b"\r\n\r\n", 1)[1].startswith(b"retry:"), "the stream starts with retry:")

    st, _, _ = publish_text(srv, cid, body(1))
    ev = es.wait(1)
    ok(len(ev) == 1, "a publish arrives as one event")
    if ev:
        ok(re.fullmatch(r"[0-9]{26}", ev[0]["id"] or "") is not None, "id: is the 26-digit mid (%r)" % ev[0]["id"])
        ok(json.loads(ev[0]["data"]) == json.loads(body(1)), "data: is the published body")
        ok(ev[0]["event"] == "message", "default event type (message)")
    for i in range(2, 6):
        publish_text(srv, cid, body(i))
    ev = es.wait(5)
    ok([json.loads(e["data"])["params"]["n"] for e in ev] == [1, 2, 3, 4, 5], "five events in order")
    ids = [e["id"] for e in ev]
    ok(ids == sorted(ids) and len(set(ids)) == 5, "ids increase")

    # keepalive comment every ws-ping-interval
    c0 = es.comments
    es.pump(2.5)
    ok(es.comments - c0 >= 1, "keepalive comment lines arrive (%d in 2.5 s)" % (es.comments - c0))
    ok(not es.eof, "the stream stays open")
    es.close()

    # Accept: text/event-stream on the long-polling path
    for path in ("/bitrix/sub/", "/bitrix/subws/"):
        es = SSE(srv, path + "?CHANNEL_ID=" + srv.signed(cid), {"Accept": "text/event-stream"})
        ok(es.status == 200 and es.headers.get("content-type", "").startswith("text/event-stream"),
           "Accept: text/event-stream on %s gives an event stream (%s %s)" % (
               path, es.status, es.headers.get("content-type")))
        time.sleep(0.1)
        publish_text(srv, cid, body(10))
        ev = es.wait(1)
        ok(len(ev) == 1 and json.loads(ev[0]["data"])["params"]["n"] == 10, "  ... and delivers events")
        es.close()

    # two channels, one publish to both: one event
    c2 = new_id()
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=%s/%s" % (srv.signed(cid), srv.signed(c2)))
    time.sleep(0.1)
    publish_text(srv, [cid, c2], body(20))
    publish_text(srv, c2, body(21))
    ev = es.wait(3, timeout=1.5)
    ok([json.loads(e["data"])["params"]["n"] for e in ev] == [20, 21],
       "a subscriber of two channels gets a shared publish once (%d events)" % len(ev))
    es.close()


def multiline(srv):
    cid = new_id()
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid))
    time.sleep(0.1)
    text = "line one\nline two\nline three"
    publish_text(srv, cid, text)
    ev = es.wait(1)
    ok(len(ev) == 1 and ev[0]["data"] == text, "a 3-line body round-trips (%r)" % (ev and ev[0]["data"]))
    start = es.raw.find(b"line one")
    seg = es.raw[start - 6:start + 60] if start >= 6 else b""
    ok(seg.startswith(b"data: line one\ndata: line two\ndata: line three\n"),
       "sent as three data: lines (%r)" % seg)
    pretty = json.dumps({"module_id": "t", "command": "pretty", "params": {"a": 1}}, indent=2)
    publish_text(srv, cid, pretty)
    ev = es.wait(2)
    ok(len(ev) == 2 and json.loads(ev[1]["data"]) == json.loads(pretty) and ev[1]["data"] == pretty,
       "pretty-printed JSON arrives byte-identical")
    publish_text(srv, cid, "crlf one\r\ncrlf two")
    ev = es.wait(3)
    ok(len(ev) == 3 and ev[2]["data"] in ("crlf one\ncrlf two", "crlf one\r\ncrlf two"),
       "a CRLF body arrives as two lines (%r)" % (ev[2]["data"] if len(ev) > 2 else None))
    # a lone CR ends a line for EventSource parsers: it must not lose the rest
    publish_text(srv, cid, "before\rafter")
    ev = es.wait(4)
    got = ev[3]["data"] if len(ev) > 3 else None
    ok(got in ("before\nafter", "before\rafter"),
       "a body with a lone CR keeps the text after it (got %r)" % got)
    publish_text(srv, cid, "trailing newline\n")
    ev = es.wait(5)
    got = ev[4]["data"] if len(ev) > 4 else None
    ok(got == "trailing newline\n", "a body ending in a newline round-trips (got %r)" % got)
    publish_text(srv, cid, "\n\nblank lines first")
    ev = es.wait(6)
    got = ev[5]["data"] if len(ev) > 5 else None
    ok(got == "\n\nblank lines first", "a body starting with blank lines round-trips (got %r)" % got)
    publish_text(srv, cid, "after the odd ones")
    ev = es.wait(7)
    ok(len(ev) == 7 and ev[6]["data"] == "after the odd ones", "later events are unaffected")
    es.close()


def catchup(srv):
    cid = new_id()
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid))
    time.sleep(0.1)
    for i in range(4):
        publish_text(srv, cid, body(i))
    ev = es.wait(4)
    es.close()
    ids = [e["id"] for e in ev]
    ok(len(ids) == 4, "4 events to resume from")
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid), {"Last-Event-ID": ids[1]})
    ev = es.wait(2, timeout=2)
    ok([e["id"] for e in ev] == ids[2:], "Last-Event-ID: only the newer events are replayed (%d)" % len(ev))
    ok([json.loads(e["data"])["params"]["n"] for e in ev] == [2, 3], "  ... with their bodies")
    publish_text(srv, cid, body(9))
    ev = es.wait(3)
    ok(len(ev) == 3 and json.loads(ev[2]["data"])["params"]["n"] == 9, "then live events follow")
    es.close()

    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), ids[2]))
    ev = es.wait(2, timeout=2)
    ok([json.loads(e["data"])["params"]["n"] for e in ev] == [3, 9], "mid= in the query works too")
    es.close()

    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid))
    ev = es.wait(1, timeout=0.7)
    ok(ev == [], "no Last-Event-ID: nothing is replayed")
    es.close()
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid), {"Last-Event-ID": "garbage"})
    ev = es.wait(1, timeout=0.7)
    ok(es.status == 200 and ev == [], "a malformed Last-Event-ID is ignored")
    es.close()


def errors(srv):
    cid = new_id()
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=%s.%s" % (cid, "0" * 40))
    ok(es.status == 400, "bad signature: 400 (%s)" % es.status)
    ok(es.body.startswith(b"4010"), "body names 4010 (%r)" % es.body)
    es.close()
    es = SSE(srv, "/bitrix/events/")
    ok(es.status == 400, "no CHANNEL_ID: 400 (%s)" % es.status)
    es.close()
    es = SSE(srv, "/bitrix/sub/?CHANNEL_ID=%s.%s" % (cid, "0" * 40), {"Accept": "text/event-stream"})
    ok(es.status == 400, "bad signature with Accept: text/event-stream on /bitrix/sub/: 400 (%s)" % es.status)
    es.close()
    st, h, b = http(srv.sub_port, "POST", "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid), b"x")
    ok(st == 405, "POST on /bitrix/events/: 405 (%s)" % st)
    # HEAD gets the head of the answer only
    s = connect(srv.sub_port, timeout=3)
    s.sendall(build_request("HEAD", "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid)))
    data = b""
    deadline = time.time() + 1
    while time.time() < deadline:
        r, _, _ = select.select([s], [], [], deadline - time.time())
        if not r:
            break
        c = s.recv(65536)
        if not c:
            break
        data += c
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    ok(head.startswith(b"HTTP/1.1 ") and rest == b"",
       "HEAD on /bitrix/events/ sends no body (got %r after the head)" % rest[:40])
    # the server is fine after all that
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid))
    time.sleep(0.1)
    publish_text(srv, cid, body(1))
    ok(len(es.wait(1)) == 1, "a new stream still works")
    es.close()
    # a big history: all of it at once, in order (a stream has no frames to cap)
    cid = new_id()
    for i in range(100):
        publish_text(srv, cid, {"module_id": "t", "command": "b", "params": {"n": i, "pad": "x" * 2000}})
    es = SSE(srv, "/bitrix/events/?CHANNEL_ID=" + srv.signed(cid), {"Last-Event-ID": "0" * 26})
    ev = es.wait(100, timeout=5)
    es.close()
    ok([json.loads(e["data"])["params"]["n"] for e in ev] == list(range(100)),
       "Last-Event-ID before a history of 100 x 2 KB: all of it, in order (%d)" % len(ev))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def v5_token(srv):
    """A V5 token (JWT) on the EventSource path: the stream must stay an
    event stream (id:/data: events), or the request be refused - never raw
    JSON-RPC text inside text/event-stream."""
    cid = new_id()
    now = int(time.time())
    h = b64url(b'{"alg":"HS256","typ":"JWT"}')
    p = b64url(json.dumps({"iss": "host", "iat": now, "exp": now + 600, "sub": "1", "chan": cid}).encode())
    tok = "%s.%s.%s" % (h, p, b64url(hmac.new(srv.key.encode(), (h + "." + p).encode(), hashlib.sha256).digest()))
    es = SSE(srv, "/bitrix/events/?token=" + tok)
    if es.status != 200:
        ok(es.status == 400, "token on /bitrix/events/: refused with 400 (%s)" % es.status)
        es.close()
        return
    time.sleep(0.1)
    publish_text(srv, cid, body(1))
    es.pump(1)
    stream = es.raw.split(b"\r\n\r\n", 1)[1]
    bad = [l for l in re.split(rb"\r\n|\n|\r", stream) if l and not re.match(rb"(data|id|retry|event)?:", l)]
    ok(not bad, "token on /bitrix/events/: every stream line is an SSE field (stray: %r)" % (bad[:1],))
    ev = es.wait(1, timeout=0.5)
    ok(len(ev) == 1, "and the publish arrives as an event (%d events)" % len(ev))
    es.close()


if __name__ == "__main__":
    main()
