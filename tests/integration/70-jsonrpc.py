#!/usr/bin/env python3
"""V5 JSON-RPC (docs/protocol.md §4.6): PHP's signed POST /bitrix/api/ batches
(publish, getUsersLastSeen, errors) and the WebSocket side with a JWT token
(text "ping"/"pong", incoming.message, user_params, client requests)."""
import base64
import hashlib
import hmac
import json
import os
import queue
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import Server, ok, note, done, new_id, sign, http, publish_text, metrics  # noqa: E402
from wsclient import WSClient, OP_TEXT, OP_CLOSE  # noqa: E402


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(key, payload, header=None, alg="HS256"):
    h = header or {"typ": "JWT", "alg": alg}
    head = b64url(json.dumps(h, separators=(",", ":")).encode())
    pl = b64url(json.dumps(payload, separators=(",", ":")).encode())
    md = hashlib.sha256 if alg == "HS256" else hashlib.sha512
    sig = hmac.new(key.encode(), ("%s.%s" % (head, pl)).encode(), md).digest()
    return "%s.%s.%s" % (head, pl, b64url(sig))


def claims(sub, chans, ttl=3600, **extra):
    now = int(time.time())
    c = {"iss": "host", "iat": now, "exp": now + ttl, "sub": sub, "chan": ",".join(chans)}
    c.update(extra)
    return c


def api(srv, payload, sig=True, raw=None, sig_value=None):
    """POST /bitrix/api/ with the body signed as PHP does; returns
    (status, headers, parsed JSON or the raw body)."""
    body = raw if raw is not None else json.dumps(payload).encode()
    path = "/bitrix/api/"
    if sig:
        s = sig_value if sig_value is not None else sign_bytes(srv, body)
        path += "?signature=" + s
    st, h, b = http(srv.pub_port, "POST", path, body,
                    {"Content-Type": "application/json", "X-HostId": "h" * 32})
    try:
        return st, h, json.loads(b)
    except ValueError:
        return st, h, b


def sign_bytes(srv, body):
    return hmac.new(srv.key.encode(), body, getattr(hashlib, srv.algo)).hexdigest()


def rpc(method, params, id_=None):
    r = {"jsonrpc": "2.0", "method": method, "params": params}
    if id_ is not None:
        r["id"] = id_
    return r


def pbody(cmd, **params):
    return {"module_id": "test", "command": cmd, "params": params}


class V5Client(threading.Thread):
    """A V5 client in the background: answers "ping" with "pong" (unless
    mute), acks incoming.message with mack:<mid> (unless no_ack), queues
    every other JSON object it gets."""

    def __init__(self, srv, token, mute=False, no_ack=False, extra=""):
        super().__init__(daemon=True)
        self.c = WSClient(srv.sub_port, "/bitrix/subws/?token=%s&jsonRpc=true&revision=19%s" % (token, extra))
        self.mute = mute
        self.no_ack = no_ack
        self.pings = 0
        self.msgs = queue.Queue()
        self.close = None
        self.stop = threading.Event()
        self.raw = []
        self.lock = threading.Lock()
        if self.c.status == 101:
            self.start()

    def run(self):
        while not self.stop.is_set():
            m = self.c.recv_message(0.1)
            if m is None:
                if self.c.closed_by_peer:
                    return
                continue
            if m[0] == OP_CLOSE:
                self.close = self.c.close_frame
                return
            if m[0] != OP_TEXT:
                continue
            t = m[1].decode()
            self.raw.append(t)
            if t == "ping":
                self.pings += 1
                if not self.mute:
                    self.send("pong")
                continue
            try:
                j = json.loads(t)
            except ValueError:
                self.msgs.put(("bad", t))
                continue
            for item in (j if isinstance(j, list) else [j]):
                if item.get("method") == "incoming.message" and not self.no_ack:
                    self.send("mack:" + str(item.get("params", {}).get("mid")))
                self.msgs.put(item)

    def send(self, text):
        with self.lock:
            try:
                self.c.send_text(text)
            except OSError:
                pass

    def get(self, timeout=3, pred=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                m = self.msgs.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                return None
            if pred is None or pred(m):
                return m
        return None

    def incoming(self, timeout=3):
        return self.get(timeout, lambda m: isinstance(m, dict) and m.get("method") == "incoming.message")

    def response(self, id_, timeout=3):
        return self.get(timeout, lambda m: isinstance(m, dict) and m.get("id") == id_ and "method" not in m)

    def finish(self):
        self.stop.set()
        if self.is_alive():
            self.join(2)
        self.c.shutdown()


def http_side(srv):
    priv = new_id()
    lp_user = None
    batch = [rpc("publish", {"channelList": [priv], "body": pbody("a", n=1), "expiry": 60}),
             rpc("publish", {"userList": [42], "body": pbody("b", n=2), "expiry": 60,
                             "user_params": {"42": {"x": 1}}, "dictionary": {"d": 1}})]
    st, h, j = api(srv, batch)
    ok(st == 200, "signed publish batch: 200 (%s)" % st)
    ok(h.get("content-type", "").startswith("application/json"), "Content-Type is JSON (%s)" % h.get("content-type"))
    ok(j not in (None, b"", [], {}) and not isinstance(j, bytes), "the body is non-empty JSON: %r" % (j,))
    if isinstance(j, list) and len(j) == 2:
        ok(all(r.get("jsonrpc") == "2.0" and "result" in r for r in j), "one result per request: %r" % j)
        mids = [r.get("result", {}).get("mid") if isinstance(r.get("result"), dict) else None for r in j]
        ok(all(isinstance(m, str) and re.fullmatch(r"[0-9]{26}", m) for m in mids),
           "each result names the 26-digit mid: %r" % mids)

    # the published message is stored on the private channel
    st, _, body = http(srv.sub_port, "GET", "/bitrix/sub/?CHANNEL_ID=%s&mid=%s" % (srv.signed(priv), "0" * 26))
    ok(st == 200 and b'"command":"a"' in body, "a V4 long poll with mid finds the JSON-RPC publish (%s)" % st)

    # signature errors
    body = json.dumps(batch).encode()
    st, _, b = api(srv, None, raw=body, sig_value="0" * 40)
    ok(st == 400 and isinstance(b, bytes) and b.startswith(b"4026: "),
       "wrong signature: 400 \"4026: ...\" (%s %r)" % (st, b))
    st, _, b = api(srv, None, raw=body, sig=False)
    ok(st == 400 and isinstance(b, bytes) and b.startswith(b"4026: "),
       "missing signature: 400 \"4026: ...\" (%s %r)" % (st, b))
    st, _, b = api(srv, None, raw=body + b" ", sig_value=sign_bytes(srv, body))
    ok(st == 400 and isinstance(b, bytes) and b.startswith(b"4026: "),
       "signature of a different body: 400 4026 (%s)" % st)
    st, _, b = api(srv, None, raw=body, sig_value=sign_bytes(srv, body).upper())
    note("upper-case hex signature answered %s" % st)

    # JSON-RPC errors
    st, _, j = api(srv, None, raw=b'[{"jsonrpc":"2.0", "method":')
    ok(st == 400 and isinstance(j, dict) and j.get("error", {}).get("code") == -32700,
       "bad JSON: 400 with error -32700 (%s %r)" % (st, j))
    ok(isinstance(j, dict) and j.get("jsonrpc") == "2.0" and "id" in j and j["id"] is None,
       "the parse error is a JSON-RPC response with id null")

    def one(req):
        st, _, j = api(srv, req)
        if isinstance(j, list) and len(j) == 1:
            j = j[0]
        return st, j if isinstance(j, dict) else {}

    st, j = one(rpc("noSuchMethod", {}, 1))
    ok(j.get("error", {}).get("code") == -32601 and j.get("id") == 1,
       "unknown method: error -32601 with the request id (%s %r)" % (st, j))
    st, j = one([rpc("noSuchMethod", {})])
    ok(j.get("error", {}).get("code") == -32601, "unknown method in an id-less batch: -32601 (%r)" % j)

    cases = [
        ("publish", {"channelList": [priv], "body": "not an object"}, "body"),
        ("publish", {"channelList": priv, "body": pbody("x")}, "channelList"),
        ("publish", {"userList": "1", "body": pbody("x")}, "userList"),
        ("publish", {"userList": ["abc"], "body": pbody("x")}, "userList"),
        ("publish", {"userList": [1], "body": pbody("x"), "expiry": "60"}, "expiry"),
        ("publish", {"userList": [1], "body": pbody("x"), "user_params": [1]}, "user_params"),
        ("getUsersLastSeen", {"userList": "1"}, "userList"),
        ("getUsersLastSeen", {}, "userList"),
    ]
    for method, params, field in cases:
        st, j = one(rpc(method, params, 7))
        err = j.get("error", {})
        ok(err.get("code") == -32602 and field in err.get("message", ""),
           "%s %s: -32602 naming %r (%r)" % (method, json.dumps(params)[:60], field, err))
    st, j = one(rpc("publish", [1, 2], 8))
    ok(j.get("error", {}).get("code") == -32602 and "params" in j.get("error", {}).get("message", ""),
       "params not an object: -32602 naming params (%r)" % j.get("error"))
    st, j = one({"method": "publish", "params": {}})
    ok(j.get("error", {}).get("code") == -32600, "no jsonrpc member: -32600 (%r)" % j.get("error"))
    st, j = one(rpc("publish", {"body": pbody("x")}, 9))
    ok(j.get("error", {}).get("code") == -32602, "publish without receivers: -32602 (%r)" % j.get("error"))
    st, _, j = api(srv, [])
    ok(isinstance(j, dict) and j.get("error", {}).get("code") == -32600, "empty batch: -32600 (%r)" % (j,))

    # a batch with one bad entry: the good ones still run
    priv2 = new_id()
    st, _, j = api(srv, [rpc("publish", {"channelList": [priv2], "body": pbody("good")}),
                         rpc("nope", {})])
    ok(st == 200 and isinstance(j, list) and len(j) == 2 and "result" in j[0] and
       j[1].get("error", {}).get("code") == -32601, "a batch answers each entry on its own (%r)" % (j,))
    return lp_user


def ws_side(srv):
    key = srv.key
    shared, priv, pub = new_id(), new_id(), new_id()
    tok = jwt(key, claims("1", [shared, priv]))
    u1 = V5Client(srv, tok)
    ok(u1.c.status == 101, "token + jsonRpc=true upgrades (%s)" % u1.c.status)
    time.sleep(0.3)
    ok(u1.pings >= 1, "the server sends a text \"ping\" right after the upgrade (%d)" % u1.pings)

    # getUsersLastSeen while user 1 is connected
    st, _, j = api(srv, rpc("getUsersLastSeen", {"userList": [1, 2]}))
    res = j.get("result") if isinstance(j, dict) else None
    ok(st == 200 and isinstance(j, dict) and j.get("jsonrpc") == "2.0" and isinstance(res, dict),
       "getUsersLastSeen: 200 with jsonrpc 2.0 and a result object (%r)" % (j,))
    ok(isinstance(res, dict) and res.get("1") == 0, "user 1 (connected) has 0 (%r)" % res)
    ok(isinstance(res, dict) and "2" not in res, "unknown user 2 is absent (%r)" % res)
    st, _, j = api(srv, rpc("getUsersLastSeen", {"userList": ["1"]}))
    ok(isinstance(j, dict) and j.get("result", {}).get("1") == 0, "user ids as strings work too (%r)" % (j,))

    # publish by channelList (shared) and by userList
    st, _, j = api(srv, [rpc("publish", {"channelList": [shared], "body": pbody("by_channel", n=1), "expiry": 60})])
    m = u1.incoming()
    ok(st == 200 and m is not None, "publish by channelList reaches the V5 client as incoming.message")
    if m:
        p = m.get("params", {})
        ok(m.get("jsonrpc") == "2.0" and "id" not in m, "incoming.message is a JSON-RPC notification")
        ok(re.fullmatch(r"[0-9]{26}", str(p.get("mid"))) is not None, "params.mid is 26 digits (%r)" % p.get("mid"))
        ok(p.get("body") == pbody("by_channel", n=1), "params.body is the published object (%r)" % p.get("body"))
        ok(p.get("sender", {}).get("type") == 2, "params.sender.type is 2 (%r)" % p.get("sender"))
    api(srv, [rpc("publish", {"userList": [1], "body": pbody("by_user", n=2), "expiry": 60})])
    m = u1.incoming()
    ok(m is not None and m["params"].get("body", {}).get("command") == "by_user",
       "publish by userList [1] reaches the client whose JWT sub is \"1\"")
    api(srv, [rpc("publish", {"channelList": [priv], "body": pbody("by_priv"), "expiry": 60})])
    m = u1.incoming()
    ok(m is not None and m["params"].get("body", {}).get("command") == "by_priv",
       "publish to the private id in chan reaches it too")
    api(srv, [rpc("publish", {"userList": [7], "body": pbody("other_user")})])
    ok(u1.incoming(0.5) is None, "a publish to another user does not")

    # user_params: only the recipient's own entry, as params.user_params
    api(srv, [rpc("publish", {"userList": [1, 2], "body": pbody("up", k="v"),
                              "user_params": {"1": {"mine": 1}, "2": {"theirs": 2}},
                              "dictionary": {"dict": "x"}})])
    m = u1.incoming()
    p = m.get("params", {}) if m else {}
    ok(p.get("user_params") == {"mine": 1}, "user_params carries only user 1's entry (%r)" % p.get("user_params"))
    ok(p.get("dictionary") == {"dict": "x"}, "dictionary is passed on (%r)" % p.get("dictionary"))
    ok(p.get("body") == pbody("up", k="v"), "body unchanged next to user_params")
    # what history keeps of a message counts its user_params and dictionary too
    h0 = metrics(srv).get("pullbox_history_bytes") or 0
    api(srv, [rpc("publish", {"userList": [7], "body": pbody("small"),
                              "user_params": {"7": {"pad": "u" * 20000}},
                              "dictionary": {"pad": "d" * 20000}})])
    grown = (metrics(srv).get("pullbox_history_bytes") or 0) - h0
    ok(grown >= 40000, "history counts a message's user_params and dictionary (+%d bytes)" % grown)

    # client requests
    u1.send(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {}}))
    r = u1.response(5)
    ok(r is not None and r.get("jsonrpc") == "2.0" and "result" in r, "client ping request id 5 gets a response with id 5 (%r)" % r)
    u1.send("mack:" + "1" * 26)
    u1.send(json.dumps({"jsonrpc": "2.0", "id": 6, "method": "ping", "params": {}}))
    r = u1.response(6, 2)
    bad = [x for x in list(u1.msgs.queue) if isinstance(x, dict) and "error" in x]
    ok(r is not None and not bad and not u1.c.closed_by_peer, "a mack:<mid> frame is accepted silently")

    # fragmented text request
    with u1.lock:
        u1.c.send_fragments(OP_TEXT, [b'{"jsonrpc":"2.0","id":', b'77,"method":"ping",', b'"params":{}}'])
    r = u1.response(77)
    ok(r is not None and "result" in r, "a request in three text fragments is answered (id 77)")
    u1.send('{"jsonrpc":"2.0","id":78,"method":"nope","params":{}}')
    r = u1.response(78)
    ok(r is not None and r.get("error", {}).get("code") == -32601, "client unknown method: -32601 (%r)" % r)
    u1.send('{"jsonrpc":"2.0","id":79,')
    r = u1.get(2, lambda m: isinstance(m, dict) and m.get("error", {}).get("code") == -32700)
    ok(r is not None and not u1.c.closed_by_peer, "client bad JSON: -32700 and the socket stays (%r)" % r)
    u1.send(json.dumps({"jsonrpc": "2.0", "id": 80, "method": "listChannels", "params": {}}))
    r = u1.response(80)
    chans = (r or {}).get("result", {}).get("channels", []) if isinstance((r or {}).get("result"), dict) else []
    ok(shared in chans and priv in chans, "listChannels names the JWT's channels (%r)" % chans)

    # client publish to a pubId.sig reference, received by a V4 subscriber of that public id
    r_priv, r_pub = new_id(), new_id()
    v4 = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=%s&binaryMode=true" % srv.signed(r_priv, r_pub))
    v5r = V5Client(srv, jwt(key, claims("3", [new_id(), r_pub])))
    ref = srv.public_ref(r_pub)
    u1.send(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "publish",
                        "params": {"channelList": [ref], "body": pbody("from_client", z=1)}}))
    r = u1.response(9)
    ok(r is not None and "result" in r, "client publish to pubId.sig answers a result (%r)" % r)
    m = v5r.incoming()
    ok(m is not None and m["params"].get("body") == pbody("from_client", z=1),
       "a V5 subscriber of that public id receives it")
    ok(m is not None and m["params"].get("sender", {}).get("type") == 1,
       "with sender.type 1 (CLIENT) (%r)" % (m and m["params"].get("sender")))
    d = v4.recv_data(3)
    ok(d is not None and b"from_client" in d, "a V4 binary subscriber of that public id receives it too")
    # object form of the reference
    u1.send(json.dumps({"jsonrpc": "2.0", "id": 10, "method": "publish",
                        "params": {"channelList": [{"publicId": r_pub, "signature": ref.split(".")[1]}],
                                   "body": pbody("obj_ref")}}))
    ok(u1.response(10) is not None and v5r.incoming() is not None, "{publicId, signature} form works too")
    # a client may not publish to a private id or with a bad signature
    u1.send(json.dumps({"jsonrpc": "2.0", "id": 11, "method": "publish",
                        "params": {"channelList": [r_priv], "body": pbody("sneaky")}}))
    r = u1.response(11)
    ok(r is not None and r.get("error", {}).get("code") == -32602, "client publish to a raw private id: error (%r)" % r)
    u1.send(json.dumps({"jsonrpc": "2.0", "id": 12, "method": "publish",
                        "params": {"channelList": [r_pub + "." + "0" * 40], "body": pbody("sneaky")}}))
    r = u1.response(12)
    ok(r is not None and r.get("error", {}).get("code") == -32602, "client publish with a bad signature: error (%r)" % r)
    u1.send(json.dumps({"jsonrpc": "2.0", "id": 13, "method": "publish",
                        "params": {"userList": [3], "body": pbody("sneaky")}}))
    r = u1.response(13)
    note("client publish by userList answered %r" % (r,))
    got = v5r.incoming(0.5)
    ok(got is None or got["params"]["body"]["command"] != "sneaky" or r.get("error") is None,
       "nothing sneaky was delivered while an error was reported")
    v4.shutdown()
    v5r.finish()

    # keepalive: the answering client stays over several intervals
    time.sleep(3.2)
    ok(u1.is_alive() and not u1.c.closed_by_peer, "a client answering \"pong\" stays connected (%d pings)" % u1.pings)
    ok(u1.pings >= 3, "pings come every jsonrpc-ping-interval (%d in ~4 s)" % u1.pings)

    # a client that never answers is dropped
    mute = V5Client(srv, jwt(key, claims("5", [new_id()])), mute=True)
    t0 = time.time()
    while mute.is_alive() and time.time() - t0 < 5:
        time.sleep(0.05)
    ok(not mute.is_alive() and mute.c.closed_by_peer, "a client that never answers \"ping\" is dropped (%.1fs)" % (time.time() - t0))
    ok(time.time() - t0 < 3.5, "within ~2 intervals")
    mute.finish()

    # after user 1 disconnects, last seen is a number >= 0
    u1.finish()
    time.sleep(1.2)
    st, _, j = api(srv, [rpc("getUsersLastSeen", {"userList": [1, 2]})])
    res = j[0].get("result") if isinstance(j, list) and j else None
    v = res.get("1") if isinstance(res, dict) else None
    ok(isinstance(v, int) and v >= 0, "after disconnecting, user 1's last seen is a number >= 0 (%r)" % res)
    ok(isinstance(v, int) and v >= 1, "and it counts the seconds since (%r)" % v)
    ok(isinstance(res, dict) and "2" not in res, "user 2 is still absent")


def jwt_errors(srv):
    key = srv.key
    cases = []
    now = int(time.time())
    cases.append(("expired", jwt(key, dict(claims("1", [new_id()]), iat=now - 7200, exp=now - 3600))))
    good = jwt(key, claims("1", [new_id()]))
    h, p, s = good.split(".")
    bad_pl = b64url(json.dumps(claims("2", [new_id()])).encode())
    cases.append(("tampered payload", "%s.%s.%s" % (h, bad_pl, s)))
    cases.append(("tampered signature", "%s.%s.%s" % (h, p, ("A" if s[0] != "A" else "B") + s[1:])))
    cases.append(("other key", jwt("x" + key, claims("1", [new_id()]))))
    cases.append(("alg none", "%s.%s." % (b64url(b'{"alg":"none","typ":"JWT"}'), p)))
    cases.append(("garbage", "not.a.jwt"))
    for name, tok in cases:
        c = WSClient(srv.sub_port, "/bitrix/subws/?token=%s&jsonRpc=true" % tok)
        try:
            code, reason = c.wait_close(3)
        except TimeoutError:
            code, reason = "timeout", None
        ok(c.status == 101 and code == 4010, "%s JWT: 101 then close 4010 (%s %s %r)" % (name, c.status, code, reason))
        c.shutdown()
    # HS512 and a JSON array chan are accepted
    ch = new_id()
    c = V5Client(srv, jwt(key, dict(claims("9", []), chan=[ch]), alg="HS512"))
    time.sleep(0.2)
    api(srv, [rpc("publish", {"channelList": [ch], "body": pbody("hs512")})])
    m = c.incoming()
    ok(m is not None, "an HS512 token with chan as an array works")
    c.finish()


def main():
    with Server({"jsonrpc-ping-interval": 1, "ws-ping-interval": 1}) as srv:
        for fn in (http_side, ws_side, jwt_errors):
            try:
                fn(srv)
            except Exception as e:  # noqa: BLE001
                import traceback
                note(traceback.format_exc())
                ok(False, "%s ran to its end (%s: %s)" % (fn.__name__, type(e).__name__, e))
    done()


if __name__ == "__main__":
    main()
