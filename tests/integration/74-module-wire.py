#!/usr/bin/env python3
"""What the real pull module sends (pull 25.x, main 25.x), replayed byte for
byte as it goes on the wire: every POST says Content-Type
application/x-www-form-urlencoded and Connection: close, Host has no port;
the text publish is read only up to its headers; protobuf publish and
channelStats carry &hostname= (channelStats in batches of 99, then the rest,
each its own POST); text stats is a GET with the whole list as its body and
this request's part in the URL; JSON-RPC carries hostId/hostname (or the
older X-HostId header) and must answer within the module's 1 s timeout;
updateUsersLastSeen is kept (bounded) and used by getUsersLastSeen; the site
checker reads the long-poll answer with one 4096-byte read. Also: a V5
client's publish names the user its token proves as its sender."""
import importlib.util
import json
import os
import select
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))
from pbtest import Server, ok, note, done, new_id, connect, read_response, http, Poll  # noqa: E402
from pbtest import text_frames  # noqa: E402
import pbproto as pb  # noqa: E402

_spec = importlib.util.spec_from_file_location("jsonrpc70", os.path.join(HERE, "70-jsonrpc.py"))
j70 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(j70)

HOST_ID = "pUl1b0xh0st1d00000000000000000ab"  # 32 chars, as Config::getHostId() makes


def module_request(method, path, body=b"", extra=None):
    """The module's HTTP client: HTTP/1.1, Host without port, these headers."""
    if isinstance(body, str):
        body = body.encode()
    head = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1", "Connection: close",
            "Accept: */*", "Accept-Language: en", "Content-Type: application/x-www-form-urlencoded"]
    head += ["%s: %s" % kv for kv in (extra or {}).items()]
    head.append("Content-Length: %d" % len(body))
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def module_send(srv, method, path, body=b"", extra=None, headers_only=False, timeout=5):
    """(status, headers, body, seconds to the answer's headers)."""
    s = connect(srv.pub_port, timeout)
    try:
        t0 = time.time()
        s.sendall(module_request(method, path, body, extra))
        if headers_only:  # "don't wait": status line and headers, then close
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            dt = time.time() - t0
            st = int(buf.split(b" ", 2)[1]) if buf.startswith(b"HTTP/") else None
            return st, {}, b"", dt
        st, h, b = read_response(s, method)
        return st, h, b, time.time() - t0
    finally:
        s.close()


def rpc_post(srv, payload, header_host_id=False):
    body = json.dumps(payload, separators=(",", ":")).encode()
    sig = j70.sign_bytes(srv, body)
    if header_host_id:  # pull 22.300.100
        return module_send(srv, "POST", "/bitrix/api/?signature=" + sig, body, {"X-HostId": HOST_ID})
    return module_send(srv, "POST", "/bitrix/api/?signature=%s&hostId=%s&hostname=site.example"
                       % (sig, HOST_ID), body)


def php_json(obj):
    """Bitrix Json::encode as the module sends bodies: raw UTF-8, '/' as \\/,
    '"' '<' '&' inside strings as \\u0022 \\u003C \\u0026."""
    def esc(s):
        return (json.dumps(s, ensure_ascii=False)[1:-1].replace('\\"', "\\u0022").replace("<", "\\u003C")
                .replace("&", "\\u0026").replace("/", "\\/"))

    if isinstance(obj, dict):
        return "{" + ",".join('"%s":%s' % (esc(k), php_json(v)) for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(php_json(v) for v in obj) + "]"
    if isinstance(obj, str):
        return '"%s"' % esc(obj)
    return json.dumps(obj)


def event(cmd, **params):
    return {"module_id": "im", "command": cmd, "params": params,
            "extra": {"server_time": "2026-12-06T20:00:00+00:00", "server_time_unix": time.time(),
                      "server_name": "site.example", "revision_web": 19, "revision_mobile": 3}}


def text_publish(srv):
    priv = new_id()
    lp = Poll(srv, srv.signed(priv))
    ev = event("message", text='Привет "<b>" & a/b')
    body = php_json(ev)
    st, _, _, dt = module_send(srv, "POST", "/bitrix/pub/?CHANNEL_ID=" + priv, body,
                               {"Message-Expiry": "86400"}, headers_only=True)
    ok(st == 200 and dt < 1, "text publish, read up to its headers: 200 within %.3f s" % dt)
    s, _, b = lp.response(5)
    fr = text_frames(b) if s == 200 else []
    ok(len(fr) == 1 and fr[0]["text"] == ev, "the subscriber gets it, the body's value unchanged (%r)"
       % (fr[0]["text"] if fr else b[:100]))


def protobuf_side(srv):
    priv = new_id()
    lp = Poll(srv, srv.signed(priv), query="&binaryMode=true")
    msg = pb.incoming_message([pb.receiver(bytes.fromhex(priv), True)], php_json(event("pb")).encode(),
                              86400, b"im_pb")
    st, _, _, dt = module_send(srv, "POST", "/bitrix/pub/?binaryMode=true&hostname=site.example",
                               pb.request_batch(pb.request_incoming([msg])))
    ok(st == 200 and dt < 1, "protobuf publish with &hostname=: 200 in %.3f s" % dt)
    s, _, b = lp.response(5)
    ok(s == 200 and b"im" in b, "...delivered (%s)" % s)

    # online query: 150 channels, batches of 99 then 51, each its own POST
    chans = [new_id() for _ in range(150)]
    online = {chans[3], chans[98], chans[140]}
    polls = [Poll(srv, srv.signed(c)) for c in sorted(online)]
    seen = {}
    for part in (chans[:99], chans[99:]):
        req = pb.request_batch(pb.request_channel_stats([pb.channel_id(bytes.fromhex(c), True) for c in part]))
        st, _, b, dt = module_send(srv, "POST", "/bitrix/pub/?binaryMode=true&hostname=site.example", req)
        rs = pb.decode_response_batch(b) if st == 200 else []
        for c in (rs[0].get("channelStats", []) if rs else []):
            seen[c["id"].hex()] = c["isOnline"]
        ok(st == 200 and dt < 1, "channelStats of %d channels: 200 in %.3f s" % (len(part), dt))
    ok(len(seen) == 150 and {c for c, o in seen.items() if o} == online,
       "responses[0] lists all 150, online exactly the 3 subscribed")

    # text stats: GET with the whole list as body, this request's part in the URL
    url_part = [chans[3], chans[4], chans[140]]
    whole = "/".join(chans)
    st, _, b, _ = module_send(srv, "GET", "/bitrix/pub/?CHANNEL_ID=" + "/".join(url_part), whole)
    try:
        infos = {i["channel"]: i["subscribers"] for i in json.loads(b)["infos"]}
    except (ValueError, KeyError, TypeError):
        infos = None
    ok(st == 200 and infos == {chans[3]: 1, chans[140]: 1},
       "text stats GET with a body: the URL's channels that are online (%s %r)" % (st, infos))
    for p in polls:
        p.close()


def jsonrpc_side(srv):
    uid, priv, shared = 4242, new_id(), new_id()
    c = j70.V5Client(srv, j70.jwt(srv.key, j70.claims(str(uid), [shared, priv])))
    time.sleep(0.3)
    ev = event("message", text='a "quoted" <tag> & more / slash')
    req = [{"jsonrpc": "2.0", "method": "publish",
            "params": {"userList": [uid], "channelList": [priv], "body": ev, "expiry": 86400,
                       "type": "im_message"}}]
    body = php_json(req).encode()
    st, h, b, dt = module_send(srv, "POST", "/bitrix/api/?signature=%s&hostId=%s&hostname=site.example"
                               % (j70.sign_bytes(srv, body), HOST_ID), body)
    ok(st == 200 and dt < 1 and b.strip(), "JSON-RPC publish (hostId, hostname): 200, non-empty, in %.3f s" % dt)
    m = c.incoming()
    ok(m is not None and m["params"]["body"] == ev, "the user gets the body's value (\\u0022 \\u003C \\u0026 \\/)")
    ok(c.incoming(1) is None, "userList and channelList naming the same user: delivered once")
    st, _, b, dt = rpc_post(srv, req, header_host_id=True)
    ok(st == 200 and dt < 1 and c.incoming() is not None, "the 22.300.100 form (X-HostId header) too")
    c.finish()


def last_seen(srv):
    now = int(time.time())
    # user 700 online here, 701 and 702 only reported by the site, 703 unknown
    online = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("700", [])))
    time.sleep(0.3)
    st, _, b, dt = rpc_post(srv, {"jsonrpc": "2.0", "method": "updateUsersLastSeen",
                                  "params": {"701": now - 100, "702": now - 5000, "700": now - 999}})
    r = json.loads(b) if st == 200 else {}
    ok(st == 200 and dt < 1 and r.get("jsonrpc") == "2.0" and "error" not in r and "result" in r,
       "updateUsersLastSeen (id-less): jsonrpc 2.0, no error, in %.3f s (%r)" % (dt, r))
    st, _, b, dt = rpc_post(srv, {"jsonrpc": "2.0", "method": "getUsersLastSeen",
                                  "params": {"userList": [700, 701, 702, 703]}})
    res = (json.loads(b) if st == 200 else {}).get("result", {})
    ok(st == 200 and dt < 1 and res.get("700") == 0, "getUsersLastSeen: a user online here is 0 (%r)" % res)
    ok(isinstance(res.get("701"), int) and 99 <= res["701"] <= 103 and
       isinstance(res.get("702"), int) and 4999 <= res["702"] <= 5003,
       "users only the site saw: the seconds since what it reported (%r)" % res)
    ok("703" not in res and all(isinstance(v, int) for v in res.values()),
       "a user nobody saw is left out; no null or false (%r)" % res)
    # a V5 client asks the same
    online.send(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "getUsersLastSeen",
                            "params": {"userList": [701, 703]}}))
    r = online.response(5)
    ok(r is not None and set(r.get("result", {})) == {"701"}, "a V5 client's getUsersLastSeen too (%r)" % r)
    # an older report does not move it back; bad entries refuse the whole request
    rpc_post(srv, {"jsonrpc": "2.0", "method": "updateUsersLastSeen", "params": {"701": now - 9000}})
    for bad in ({"abc": now, "704": now}, {"704": "yesterday"}, {"704": -1}, {"704": now, "1" * 21: now}):
        st, _, b, _ = rpc_post(srv, {"jsonrpc": "2.0", "method": "updateUsersLastSeen", "params": bad})
        r = json.loads(b) if st == 200 else {}
        ok(r.get("error", {}).get("code") == -32602, "updateUsersLastSeen %r: -32602 (%r)" % (bad, r.get("error")))
    st, _, b, _ = rpc_post(srv, {"jsonrpc": "2.0", "method": "getUsersLastSeen", "params": {"userList": [701, 704]}})
    res = json.loads(b).get("result", {})
    ok(99 <= res.get("701", -1) <= 105 and "704" not in res,
       "an older report is ignored, a refused request kept nothing (%r)" % res)
    # clients cannot report
    online.send(json.dumps({"jsonrpc": "2.0", "id": 6, "method": "updateUsersLastSeen", "params": {"705": now}}))
    r = online.response(6)
    ok(r is not None and r.get("error", {}).get("code") == -32601, "a V5 client cannot report last-seen (%r)" % r)
    online.finish()


def last_seen_cap():
    with Server({"last-seen-max-users": 3}) as srv:
        now = int(time.time())
        for u in range(801, 805):
            rpc_post(srv, {"jsonrpc": "2.0", "method": "updateUsersLastSeen", "params": {str(u): now - u}})
        rpc_post(srv, {"jsonrpc": "2.0", "method": "updateUsersLastSeen", "params": {"802": now}})
        st, _, b, _ = rpc_post(srv, {"jsonrpc": "2.0", "method": "getUsersLastSeen",
                                     "params": {"userList": [801, 802, 803, 804]}})
        res = json.loads(b).get("result", {})
        ok(set(res) == {"802", "803", "804"} and res["802"] <= 2,
           "last-seen-max-users 3: the 4th user replaces the first reported; an update keeps its place (%r)" % res)


def site_checker(srv):
    """The site checker's subscriber reads once, fread(4096)."""
    priv = new_id()
    sub = connect(srv.sub_port, 10)
    sub.sendall(("GET /bitrix/sub/?CHANNEL_ID=%s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % srv.signed(priv)).encode())
    time.sleep(1)
    text = new_id()
    module_send(srv, "POST", "/bitrix/pub/?CHANNEL_ID=" + priv, text)
    select.select([sub], [], [], 5)
    got = sub.recv(4096)
    sub.close()
    ok(got.startswith(b"HTTP/1.") and text.encode() in got,
       "the first read of the long poll holds the headers and the md5 string (%r)" % got[:120])


def v5_sender(srv):
    """A V5 client's publish: sender {type 1, id <its token's sub>}; a token
    without sub cannot publish."""
    a = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("31", [])))
    b = j70.V5Client(srv, j70.jwt(srv.key, j70.claims("32", [])))
    r_priv, r_pub = new_id(), new_id()
    txt = Poll(srv, srv.signed(r_priv, r_pub))
    time.sleep(0.3)
    a.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "publish",
                       "params": {"userList": [32], "channelList": [srv.public_ref(r_pub)],
                                  "body": j70.pbody("hi", x=1)}}))
    r = a.response(1)
    ok(r is not None and "result" in r, "V5 client publish: a result (%r)" % r)
    m = b.incoming()
    s = m and m["params"].get("sender")
    ok(s == {"type": 1, "id": "31"}, "the receiver sees sender {type 1, id \"31\"}, the token's user (%r)" % s)
    st, _, body = txt.response(5)
    fr = text_frames(body) if st == 200 else []
    snd = fr[0]["text"].get("extra", {}).get("sender") if fr else None
    ok(snd == {"type": 1, "id": "31"}, "a text subscriber of the public id: extra.sender the same (%r)" % snd)
    anon = j70.V5Client(srv, j70.jwt(srv.key, dict(j70.claims("x", [new_id()]), sub=None)))
    time.sleep(0.2)
    anon.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "publish",
                          "params": {"channelList": [srv.public_ref(r_pub)], "body": j70.pbody("anon")}}))
    r = anon.response(2)
    ok(r is not None and r.get("error", {}).get("code") == -32602 and "4012" in r["error"]["message"],
       "a token without sub cannot publish: -32602 4012 (%r)" % (r and r.get("error")))
    for c in (a, b, anon):
        c.finish()


def main():
    with Server({"jsonrpc-ping-interval": 1}) as srv:
        for fn in (text_publish, protobuf_side, jsonrpc_side, last_seen, site_checker, v5_sender):
            try:
                fn(srv)
            except Exception as e:  # noqa: BLE001
                import traceback
                note(traceback.format_exc())
                ok(False, "%s ran to its end (%s: %s)" % (fn.__name__, type(e).__name__, e))
    last_seen_cap()
    done()


if __name__ == "__main__":
    main()
