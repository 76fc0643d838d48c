#!/usr/bin/env python3
"""HTTP/1.x framing on both ports: keep-alive, pipelining, HTTP/1.0, query
decoding, CORS preflight, error statuses (each followed by a check that an
unrelated long-poll subscriber is still served), chunked bodies, timeouts and
publishers that close right after writing (docs/protocol.md §1.2, §2, §7.1)."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, Poll, Witness, ok, note, done, new_id, http, raw, connect,  # noqa: E402
                    build_request, read_response, publish_text, text_frames, server_stat)


def status_of(data):
    """Status code of the first response in raw bytes, or None."""
    try:
        return int(data.split(b"\r\n", 1)[0].split()[1])
    except (IndexError, ValueError):
        return None


def head_and_body(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    return hdrs, body


def closed_soon(sock, timeout=3):
    """True when the peer closes (EOF or reset) within timeout and sends nothing more."""
    sock.settimeout(timeout)
    extra = getattr(sock, "_pb_rest", b"")
    try:
        while True:
            d = sock.recv(4096)
            if not d:
                return extra == b""
            extra += d
    except socket.timeout:
        return False
    except ConnectionResetError:
        return extra == b""


def delivered(poll, token, timeout=5):
    try:
        st, h, body = poll.response(timeout)
    except OSError as e:
        note("poll: %r" % (e,))
        return False
    return st == 200 and token.encode() in body


CONF = {"longpoll-timeout": 10, "header-timeout": 2, "idle-timeout": 5,
        "max-header-size": 1024, "max-body-size": 1024}

with Server(CONF) as srv:
    # ---- keep-alive: several requests on one socket (publish port) ----
    cid = new_id()
    p = Poll(srv, srv.signed(cid))
    s = connect(srv.pub_port)
    s.sendall(build_request("GET", "/health"))
    st1, h1, b1 = read_response(s)
    s.sendall(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + cid, '{"ka":1}'))
    st2, h2, b2 = read_response(s)
    s.sendall(build_request("GET", "/server-stat/"))
    st3, h3, b3 = read_response(s)
    ok(st1 == 200 and st2 == 200 and st3 == 200 and b2 == b"" and json.loads(b3)[0]["pid"] == srv.pid,
       "keep-alive: /health, publish, /server-stat/ answered on one socket (%s %s %s)" % (st1, st2, st3))
    ok(all(h.get("connection", "").lower() != "close" for h in (h1, h2, h3)),
       "keep-alive: no Connection: close on HTTP/1.1 responses")
    ok(delivered(p, '"ka":1'), "keep-alive: the publish made on the kept socket is delivered")
    s.sendall(build_request("GET", "/health", headers={"Connection": "close"}))
    st4, h4, _ = read_response(s)
    ok(st4 == 200 and h4.get("connection", "").lower() == "close" and closed_soon(s),
       "keep-alive: Connection: close on the 4th request closes after its response")
    s.close()

    # ---- keep-alive on the subscribe port: two long polls on one socket ----
    cid = new_id()
    s = connect(srv.sub_port, 10)
    before = server_stat(srv)["pollings"]
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=" + srv.signed(cid)))
    time.sleep(0.2)
    publish_text(srv, cid, '{"lp":1}')
    st1, h1, b1 = read_response(s)
    f1 = text_frames(b1)
    mid1 = f1[0]["mid"] if f1 else ""
    s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=%s&mid=%s" % (srv.signed(cid), mid1)))
    time.sleep(0.2)
    publish_text(srv, cid, '{"lp":2}')
    st2, h2, b2 = read_response(s)
    f2 = text_frames(b2)
    ok(st1 == 200 and st2 == 200 and [f["text"] for f in f1] == [{"lp": 1}]
       and [f["text"] for f in f2] == [{"lp": 2}],
       "keep-alive: two long polls answered in turn on one subscribe socket")
    s.close()

    # ---- pipelining: publish, stats GET, health in one send ----
    cid = new_id()
    p = Poll(srv, srv.signed(cid))
    s = connect(srv.pub_port)
    s.sendall(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + cid, '{"pipe":1}')
              + build_request("GET", "/bitrix/pub/?CHANNEL_ID=" + cid)
              + build_request("GET", "/health"))
    r1 = read_response(s)
    r2 = read_response(s)
    r3 = read_response(s)
    s.close()
    ok(r1[0] == 200 and r1[2] == b"", "pipelining: 1st response is the publish (200, empty body)")
    ok(r2[0] == 200 and r2[2] == ('{"infos":[{"channel":"%s","subscribers":1}]}' % cid).encode(),
       "pipelining: 2nd response is the stats GET (%r)" % (r2[2][:120],))
    ok(r3[0] == 200 and json.loads(r3[2]) == {"live": True, "ready": True},
       "pipelining: 3rd response is /health")
    ok(delivered(p, '"pipe":1'), "pipelining: the pipelined publish is delivered")

    # ---- pipelining on the subscribe port: a second poll queued behind the first ----
    cid = new_id()
    s = connect(srv.sub_port, 10)
    before = server_stat(srv)["pollings"]
    target = "/bitrix/sub/?CHANNEL_ID=" + srv.signed(cid)
    s.sendall(build_request("GET", target) + build_request("GET", target))
    time.sleep(0.3)
    publish_text(srv, cid, '{"pp":1}')
    try:
        st1, _, b1 = read_response(s)
        time.sleep(0.3)
        publish_text(srv, cid, '{"pp":2}')
        st2, _, b2 = read_response(s)
    except OSError as e:
        note("pipelined polls: %r" % (e,))
        st1 = st2 = None
        b1 = b2 = b""
    s.close()
    ok(st1 == 200 and st2 == 200 and b'"pp":1' in b1 and b'"pp":2' in b2,
       "pipelining: a long poll pipelined behind another is served after it")

    # ---- HTTP/1.0 ----
    s = connect(srv.pub_port)
    s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
    st, h, body = read_response(s)
    ok(st == 200 and json.loads(body)["live"] is True and closed_soon(s),
       "HTTP/1.0 request without keep-alive: answered, then closed")
    s.close()
    s = connect(srv.pub_port)
    s.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    st1, h1, _ = read_response(s)
    s.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    st2, h2, _ = read_response(s)
    s.close()
    ok(st1 == 200 and st2 == 200 and h1.get("connection", "").lower() == "keep-alive"
       and "content-length" in h1,
       "HTTP/1.0 with Connection: keep-alive: Connection: keep-alive + Content-Length, socket reused")
    cid = new_id()
    p = Poll(srv, srv.signed(cid), version="1.0")
    st, _, _ = http(srv.pub_port, "POST", "/bitrix/pub/?CHANNEL_ID=" + cid, "10", version="1.0",
                    headers={"Connection": None})
    try:
        pst, ph, pbody = p.response(5, close=False)
        eof = closed_soon(p.sock)
    except OSError:
        pst, pbody, eof = None, b"", False
    p.close()
    ok(st == 200 and pst == 200 and b'"text":10}' in pbody and eof,
       "HTTP/1.0 long poll and publish: delivered, then the poll socket is closed")

    # ---- percent-decoded query, unknown parameters ignored ----
    priv, pub, other = new_id(), new_id(), new_id()

    def enc(v):
        return v.replace(":", "%3A").replace("/", "%2F")

    q = enc(srv.signed(priv, pub) + "/" + srv.signed(other))
    extra = "&revision=19&unknownParam=x%20y&rnd=0.5&clientId="
    p = Poll(srv, q, query=extra)
    publish_text(srv, other, '{"pct":1}')
    ok(delivered(p, '"pct":1'), "query: CHANNEL_ID with %3A and %2F decoded (message to the 2nd id)")
    p = Poll(srv, q.replace("%3A", "%3a").replace("%2F", "%2f"), query=extra)
    publish_text(srv, pub, '{"pct":2}')
    ok(delivered(p, '"pct":2'), "query: lower-case %3a/%2f decoded too (message to the public id)")
    st, _, body = http(srv.sub_port, "GET", "/bitrix/sub/?foo=1&CHANNEL_IDx=1&CHANNEL_ID=%s&x"
                       % enc(srv.signed(new_id()) + "/zz"))
    ok(st == 400 and body == b"4010: Wrong Channel Id.",
       "query: a decoded list with an invalid element is refused with 4010 (%s %r)" % (st, body))
    s = connect(srv.pub_port)
    cid = new_id()
    p = Poll(srv, srv.signed(cid))
    st, _, _ = http(srv.pub_port, "POST", "/bitrix/pub/?x=%%2F&CHANNEL_ID=%s%%2F%s&y=2" % (cid, new_id()),
                    '{"pct":3}')
    ok(st == 200 and delivered(p, '"pct":3'), "query: publish CHANNEL_ID with %2F decoded")
    s.close()

    # ---- OPTIONS preflight ----
    for path in ("/bitrix/sub/", "/bitrix/subws/"):
        st, h, body = http(srv.sub_port, "OPTIONS", path,
                           headers={"Origin": "https://b24.example",
                                    "Access-Control-Request-Method": "GET"})
        methods = [m.strip() for m in h.get("access-control-allow-methods", "").split(",")]
        allow_h = [x.strip().lower() for x in h.get("access-control-allow-headers", "").split(",")]
        ok(st == 200 and h.get("content-type", "").startswith("text/plain")
           and h.get("access-control-allow-origin") == "*"
           and all(m in methods for m in ("GET", "POST", "OPTIONS"))
           and "if-modified-since" in allow_h and "if-none-match" in allow_h and body == b"",
           "OPTIONS %s: 200 text/plain with CORS allow-origin/methods/headers (%s %r)" % (path, st, h))

    # ---- error statuses; each followed by a witness check ----
    for port, name in ((srv.sub_port, "subscribe"), (srv.pub_port, "publish")):
        w = Witness(srv)
        st, h, body = http(port, "GET", "/no/such/path")
        ok(st == 404 and h.get("access-control-allow-origin") == "*"
           and h.get("content-type", "").startswith("text/plain") and body == b""
           and h.get("content-length") == "0",
           "unknown path on the %s port: 404, text/plain, CORS, empty body (%s %r)" % (name, st, body))
        w.check("a 404 on the %s port" % name)

    w = Witness(srv)
    st, h, body = http(srv.sub_port, "POST", "/bitrix/sub/?CHANNEL_ID=" + srv.signed(new_id()), "x")
    ok(st == 405 and h.get("access-control-allow-origin") == "*" and "GET" in h.get("allow", ""),
       "POST on /bitrix/sub/: 405 with Allow (%s %r)" % (st, h.get("allow")))
    st, h, body = http(srv.pub_port, "PUT", "/bitrix/pub/?CHANNEL_ID=" + new_id(), "x")
    ok(st == 405 and "POST" in h.get("allow", ""), "PUT on /bitrix/pub/: 405 with Allow (%s)" % st)
    st, h, body = http(srv.pub_port, "POST", "/health", "x")
    ok(st in (404, 405), "POST /health: 404 or 405 (%s)" % st)
    w.check("405 answers")

    for bad, desc in ((b"GARBAGE\r\n\r\n", "a request line without target"),
                      (b"GET /bitrix/sub/\r\n\r\n", "an HTTP/0.9 request line"),
                      (b"GET  /health HTTP/1.1\r\n\r\n", "two spaces in the request line"),
                      (b"G(T /health HTTP/1.1\r\n\r\n", "a method with a separator"),
                      (b"GET /health HTTP/1.1\r\nBad Header: x\r\n\r\n", "a header name with a space"),
                      (b"GET /health HTTP/1.1\r\nX: a\rb\r\n\r\n", "a bare CR in a header value")):
        for port in (srv.sub_port, srv.pub_port):
            w = Witness(srv)
            out = raw(port, bad)
            ok(status_of(out) == 400, "%s gets 400 on port %d (%r)" % (desc, port, out[:40]))
            w.check(desc)

    w = Witness(srv)
    big = build_request("GET", "/health", headers={"X-Big": "a" * 1100})
    out = raw(srv.pub_port, big)
    ok(status_of(out) == 431, "a complete head over max-header-size gets 431 (%r)" % out[:40])
    out = raw(srv.sub_port, b"GET /bitrix/sub/?CHANNEL_ID=" + b"a" * 1500)
    ok(status_of(out) == 414, "an unfinished request line over max-header-size gets 414, as "
       "nginx answers (%r)" % out[:40])
    out = raw(srv.sub_port, b"GET /bitrix/sub/ HTTP/1.1\r\nX-Big: " + b"a" * 1500)
    ok(status_of(out) == 431, "an unfinished head over max-header-size gets 431 (%r)" % out[:40])
    w.check("431 answers")

    w = Witness(srv)
    s = connect(srv.pub_port)
    s.sendall(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + new_id(), b"")[:-2]
              .replace(b"Content-Length: 0", b"Content-Length: 2000") + b"\r\n")
    try:
        st, h, body = read_response(s)
    except OSError as e:
        st, body = None, repr(e).encode()
    s.close()
    ok(st == 413, "Content-Length over max-body-size: 413 before the body is sent (%s %r)" % (st, body[:60]))
    chunk = b"%x\r\n%s\r\n" % (600, b"x" * 600)
    out = raw(srv.pub_port, b"POST /bitrix/pub/?CHANNEL_ID=" + new_id().encode()
              + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 2 + b"0\r\n\r\n")
    ok(status_of(out) == 413, "chunked body over max-body-size: 413 (%r)" % out[:40])
    out = raw(srv.pub_port, build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + new_id(), "y" * 1024))
    ok(status_of(out) == 200, "a body of exactly max-body-size is accepted (%r)" % out[:40])
    w.check("413 answers")

    w = Witness(srv)
    for version in (b"HTTP/2.0", b"HTTP/2.1", b"HTTP/0.9"):
        out = raw(srv.sub_port, b"GET /bitrix/sub/ " + version + b"\r\nHost: x\r\n\r\n")
        ok(status_of(out) == 505, "%s request: 505 (%r)" % (version.decode(), out[:40]))
    w.check("505 answers")

    # ---- chunked publish ----
    cid = new_id()
    p = Poll(srv, srv.signed(cid))
    out = raw(srv.pub_port, b"POST /bitrix/pub/?CHANNEL_ID=" + cid.encode()
              + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
              b"5\r\n{\"chu\r\n7;ext=1\r\nnked\":1\r\n1\r\n}\r\n0\r\nX-Trailer: y\r\n\r\n")
    ok(status_of(out) == 200, "chunked publish (with an extension and a trailer): 200 (%r)" % out[:40])
    try:
        st, _, body = p.response(5)
        frames = text_frames(body)
    except OSError:
        st, frames = None, []
    ok(st == 200 and [f["text"] for f in frames] == [{"chunked": 1}],
       "chunked publish: the de-chunked body is delivered (%r)" % frames)

    # ---- half a request head: 408 after header-timeout ----
    w = Witness(srv)
    s = connect(srv.pub_port, 8)
    t0 = time.time()
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    try:
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError as e:
        note("408 wait: %r" % (e,))
    el = time.time() - t0
    s.close()
    ok(status_of(data) == 408 and 1.5 <= el <= 4.5,
       "half a request head: 408 after header-timeout (2 s), then close (%r after %.1fs)" % (data[:30], el))
    s = connect(srv.pub_port, 8)
    t0 = time.time()
    s.sendall(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + new_id(), b"")
              .replace(b"Content-Length: 0", b"Content-Length: 10") + b"abc")
    try:
        data = s.recv(4096)
    except OSError:
        data = b""
    el = time.time() - t0
    s.close()
    ok(status_of(data) == 408 and 1.5 <= el <= 4.5,
       "half a request body: 408 after header-timeout (%r after %.1fs)" % (data[:30], el))
    w.check("408 answers")

    # ---- PHP-style publishers that write and close (§7.1) ----
    for how in ("shutdown", "close", "http10-close"):
        cid = new_id()
        p = Poll(srv, srv.signed(cid))
        s = connect(srv.pub_port)
        token = new_id()
        body = json.dumps({"module_id": "im", "command": "message", "params": {"t": token}})
        if how == "http10-close":
            req = ("POST /bitrix/pub/?CHANNEL_ID=%s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\nMessage-Expiry: 86400\r\n"
                   "Content-Length: %d\r\n\r\n%s" % (cid, len(body), body)).encode()
        else:
            req = build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + cid, body)
        s.sendall(req)
        if how == "shutdown":
            s.shutdown(socket.SHUT_WR)
        s.close()
        ok(delivered(p, token), "publisher that writes and closes (%s): message delivered" % how)
    # the head and body in two writes, then close
    cid = new_id()
    p = Poll(srv, srv.signed(cid))
    s = connect(srv.pub_port)
    req = build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + cid, '{"split":"' + "z" * 800 + '"}')
    s.sendall(req[:60])
    time.sleep(0.1)
    s.sendall(req[60:])
    s.shutdown(socket.SHUT_WR)
    s.close()
    ok(delivered(p, '"split":"zzz'), "publisher writing in two parts then closing: message delivered")
done()
