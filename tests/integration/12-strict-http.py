#!/usr/bin/env python3
"""Strict HTTP, as nginx is: on the subscribe port, its TLS twin and the
publish port, an HTTP/1.1 request without Host, a malformed percent-encoding
in the path or query, a duplicate or malformed Host, Transfer-Encoding in
HTTP/1.0, a request line past max-header-size (414) and the other framing
errors each get their own status and the connection is closed, instead of
being served or held as a long poll. Bytes that arrive with a WebSocket
upgrade request are handled as frames at once. After each case a long-poll
witness on the same server still receives its message."""
import json
import os
import socket
import ssl
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, Witness, ok, note, done, new_id, connect, make_cert,  # noqa: E402
                    tls_conf, tls_port, tls_client_context, tls_connect)
from wsclient import build_frame, new_key, OP_PING, OP_PONG  # noqa: E402

MAX_HEADER = 4096


def read_until(s, timeout, want=None):
    """What s receives before close, timeout, or `want` is among it."""
    got = b""
    deadline = time.time() + timeout
    while (want is None or want not in got) and time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ssl.SSLError, ConnectionError):
            break
        if not chunk:
            break
        got += chunk
    return got


def exchange(open_sock, data, timeout=2.0):
    """Sends data; returns what came back before close or timeout."""
    s = open_sock()
    s.settimeout(timeout)
    try:
        s.sendall(data)
        return read_until(s, timeout)
    except OSError:
        return b""
    finally:
        s.close()


def status_of(data):
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def cases(srv, sub_side):
    """(description, raw request, expected status) for one port."""
    ref = srv.signed(new_id())
    if sub_side:
        base, lp = "OPTIONS /bitrix/sub/", "GET /bitrix/sub/?CHANNEL_ID=" + ref
    else:
        base, lp = "GET /server-stat/", "GET /server-stat/?x=1"
    h = "Host: 127.0.0.1\r\n"
    yield "HTTP/1.1 without Host", "%s HTTP/1.1\r\n\r\n" % lp, 400
    yield "'%zz' in the path", "%s%%zz HTTP/1.1\r\n%s\r\n" % (base, h), 400
    yield "'%00' in the path", "%s%%00 HTTP/1.1\r\n%s\r\n" % (base, h), 400
    yield "'%zz' in the query", "%s&y=%%zz HTTP/1.1\r\n%s\r\n" % (lp, h), 400
    yield "a trailing '%1' in the query", "%s&y=%%1 HTTP/1.1\r\n%s\r\n" % (lp, h), 400
    yield "two Host headers", "%s HTTP/1.1\r\n%sHost: other\r\n\r\n" % (base, h), 400
    yield "a Host with a path", "%s HTTP/1.1\r\nHost: a/b\r\n\r\n" % base, 400
    yield "Transfer-Encoding in HTTP/1.0", (
        "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400
    yield "two Content-Length headers", (
        "POST /x HTTP/1.1\r\n%sContent-Length: 1\r\nContent-Length: 1\r\n\r\nx" % h), 400
    yield "Transfer-Encoding with Content-Length", (
        "POST /x HTTP/1.1\r\n%sContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n" % h), 400
    yield "obs-fold", "%s HTTP/1.1\r\n%sX-A: 1\r\n 2\r\n\r\n" % (base, h), 400
    yield "a bare CR in a header", "%s HTTP/1.1\r\n%sX-A: 1\r2\r\n\r\n" % (base, h), 400
    yield "65 header fields", "%s HTTP/1.1\r\n%s%s\r\n" % (
        base, h, "".join("X-%d: 1\r\n" % i for i in range(64))), 431
    yield "a request line past max-header-size", "%s?%s HTTP/1.1\r\n%s\r\n" % (
        base, "a" * (MAX_HEADER + 10), h), 414
    yield "a header past max-header-size", "%s HTTP/1.1\r\n%sX-A: %s\r\n\r\n" % (
        base, h, "a" * (MAX_HEADER + 10)), 431
    yield "HTTP/1.0 without Host is served", "%s HTTP/1.0\r\n\r\n" % base, 200
    # the absolute-form, which a server must accept (RFC 9112 3.2.2): routed by its path
    for form in ("http://127.0.0.1:8893", "HTTPS://pull.example.com"):
        yield "an absolute-form target (%s...) is served" % form, (
            "%s HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (base.replace(" /", " %s/" % form, 1), h)), 200
    for form in ("http://", "http://u@127.0.0.1", "http://a..b"):
        yield "an absolute-form target with a malformed host (%s)" % form, (
            "%s HTTP/1.1\r\n%s\r\n" % (base.replace(" /", " %s/" % form, 1), h)), 400
    yield "a well-formed request is served", "%s%%2F HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (
        base, h), 200


def check_port(srv, label, open_sock, sub_side):
    for desc, req, want in cases(srv, sub_side):
        w = Witness(srv)
        got = exchange(open_sock, req.encode())
        st = status_of(got)
        ok(st == want, "%s: %s: %s (got %s)" % (label, desc, want, st or got[:60]))
        w.check("%s on %s" % (desc, label))


def upgrade_with_frame(srv, label, open_sock):
    """The upgrade request and a ping frame in one send: the pong comes
    without the client sending anything more."""
    w = Witness(srv)
    s = open_sock()
    s.settimeout(2)
    req = ("GET /bitrix/subws/?CHANNEL_ID=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (
               srv.signed(new_id()), new_key())).encode()
    s.sendall(req + build_frame(OP_PING, b"behind-the-upgrade"))
    want = bytes([0x80 | OP_PONG, len(b"behind-the-upgrade")]) + b"behind-the-upgrade"
    got = read_until(s, 2, want)
    s.close()
    ok(status_of(got) == 101 and want in got,
       "%s: a ping sent with the upgrade request is answered at once (%r)" % (label, got[-40:]))
    w.check("an upgrade with a frame behind it on " + label)


def expect_continue(srv, label, open_sock, sub_side):
    """A POST with "Expect: 100-continue" gets "100 Continue" before it sends
    its body (curl waits a second for it, other clients for good), then the
    same final answer as without it; HTTP/1.0, a body sent at once and a
    body refused by its length (413) get no 100."""
    w = Witness(srv)
    cid = new_id()
    if sub_side:
        target = "/bitrix/rest/?CHANNEL_ID=" + srv.signed(cid, new_id())
    else:
        target = "/bitrix/pub/?CHANNEL_ID=" + cid
    body = json.dumps({"module_id": "t", "command": "c", "params": {"pad": "x" * 2000}}).encode()

    def head(version="1.1", expect=True, length=len(body)):
        return ("POST %s HTTP/%s\r\nHost: 127.0.0.1\r\n%sContent-Length: %d\r\n"
                "Connection: close\r\n\r\n" % (target, version,
                                               "Expect: 100-continue\r\n" if expect else "",
                                               length)).encode()

    want = status_of(exchange(open_sock, head(expect=False) + body))
    for version in ("1.1", "1.0"):
        s = open_sock()
        s.settimeout(0.7)
        try:
            s.sendall(head(version))
            early = read_until(s, 0.7, b"\r\n\r\n")
            s.settimeout(3)
            s.sendall(body)
            final = read_until(s, 3)
        finally:
            s.close()
        cont = b"HTTP/1.1 100 Continue\r\n\r\n"
        if version == "1.1":
            ok(early == cont and status_of(final) == want and want not in (None, 408),
               "%s: Expect: 100-continue gets 100 Continue before the body is sent, then %s "
               "(got %r, then %s)" % (label, want, early[:40], status_of(final)))
        else:
            ok(early == b"" and status_of(final) == want,
               "%s: an HTTP/1.0 request with Expect gets no 100, only its answer %s (%r, %s)"
               % (label, want, early[:40], status_of(final)))
    got = exchange(open_sock, head() + body)
    ok(not got.startswith(b"HTTP/1.1 100") and status_of(got) == want,
       "%s: with the body in the same send, no 100: only the answer %s (%r)" % (label, want, got[:30]))
    got = exchange(open_sock, head(length=(1 << 20) + 1))
    ok(status_of(got) == 413 and b"100 Continue" not in got,
       "%s: Expect with a Content-Length over max-body-size: 413 and no 100 (%r)" % (label, got[:30]))
    w.check("Expect: 100-continue on " + label)


def main():
    tmp = tempfile.mkdtemp(prefix="pullbox-12-")
    cert, key = make_cert(tmp)
    ctx = tls_client_context(cafile=cert)
    with Server(dict(tls_conf(cert, key), **{"max-header-size": MAX_HEADER,
                                             "longpoll-timeout": 30})) as srv:
        ports = (
            ("8893", lambda: connect(srv.sub_port), True),
            ("8894 (TLS)", lambda: tls_connect(tls_port(srv), ctx), True),
            ("8895", lambda: connect(srv.pub_port), False),
        )
        for label, open_sock, sub_side in ports:
            try:
                check_port(srv, label, open_sock, sub_side)
                expect_continue(srv, label, open_sock, sub_side)
                if sub_side:
                    upgrade_with_frame(srv, label, open_sock)
            except Exception as e:  # noqa: BLE001
                import traceback
                note(traceback.format_exc())
                ok(False, "%s ran to its end (%s: %s)" % (label, type(e).__name__, e))
    done()


if __name__ == "__main__":
    main()
