#!/usr/bin/env python3
"""TLS on the subscribe listener (listen-subscribe-tls): a --make-cert
certificate, https long polling and wss delivery, protocol versions, ALPN,
compression, renegotiation, weak ciphers, start-up refusals with their error
text, SIGHUP certificate reload (good and bad), plain HTTP / garbage on the TLS
port, the handshake timeout, a crowd of half-done handshakes, and (as notes)
the server's memory per idle TLS connection."""
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import (Server, ok, note, done, new_id, publish_text, text_frames, connect,  # noqa: E402
                    build_request, read_response, server_stat, wait_for, binary, raw,
                    make_cert, tls_conf, tls_port, tls_client_context, tls_connect, tls_http,
                    cert_fingerprint, vm_rss_kib, OUT)
from wsclient import WSClient, TLSWSClient, OP_TEXT, OP_BINARY, OP_PONG  # noqa: E402

HS_TIMEOUT = 2
TMP = tempfile.mkdtemp(prefix="pullbox-tls-")


# ---- helpers ----
def tls_poll(srv, ctx, ids, query="", path="/bitrix/sub/", sock=None):
    """Sends one long poll over TLS and returns once the server holds it."""
    before = server_stat(srv)["pollings"]
    s = sock or tls_connect(tls_port(srv), ctx, timeout=10)
    s.sendall(build_request("GET", path + "?CHANNEL_ID=" + ids + query))
    wait_for(lambda: server_stat(srv)["pollings"] > before, 5)
    return s


def lp_roundtrip(srv, ctx, desc):
    """An https long poll on a fresh channel receives one published message."""
    cid = new_id()
    token = new_id()
    t0 = time.time()
    try:
        s = tls_poll(srv, ctx, srv.signed(cid))
        publish_text(srv, cid, json.dumps({"t": token}))
        s.settimeout(5)
        st, _, body = read_response(s)
        s.close()
        got = [f["text"] for f in text_frames(body)]
    except (OSError, ValueError, ssl.SSLError) as e:
        note("%s: %r" % (desc, e))
        st, got = None, []
    dt = time.time() - t0
    ok(st == 200 and got == [{"t": token}], "%s (%.2fs)" % (desc, dt))
    return dt


def peer_fp(port, ctx):
    s = tls_connect(port, ctx)
    try:
        return cert_fingerprint(der=s.getpeercert(binary_form=True))
    finally:
        s.close()


def noverify_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def s_client(port, args, stdin=b"", timeout=10, cafile=None):
    """openssl s_client; returns (rc, stdout+stderr text)."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-servername", "localhost"]
    if cafile:
        cmd += ["-CAfile", cafile, "-verify_ip", "127.0.0.1"]
    cmd += args
    try:
        r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return None, out.decode(errors="replace") + "\n[timeout]"


def finish(proc, timeout=8):
    """Waits for a Popen'ed s_client whose stdin we closed; its output."""
    try:
        proc.wait(timeout)
        extra = ""
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        extra = "[timeout]"
    return proc.stdout.read().decode(errors="replace") + extra


def handshake_done(out):
    m = re.search(r"Cipher is (\S+)", out)
    return bool(m) and m.group(1) != "(NONE)"


def client_hello():
    """The bytes of a real TLS ClientHello (from an in-memory handshake)."""
    ctx = noverify_ctx()
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outg, server_side=False, server_hostname="127.0.0.1")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outg.read()


def wait_eof(sock, timeout):
    """Seconds until the peer closed sock (EOF or reset), None on timeout."""
    t0 = time.time()
    sock.settimeout(0.2)
    while time.time() - t0 < timeout:
        try:
            b = sock.recv(4096)
            if not b:
                return time.time() - t0
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.time() - t0
    return None


def raw_rst(port, data, timeout=5):
    """Sends bytes; returns (bytes received, "eof" | "reset" | "timeout")."""
    s = connect(port, timeout)
    out, how = b"", "eof"
    try:
        s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except ConnectionResetError:
        how = "reset"
    except socket.timeout:
        how = "timeout"
    finally:
        s.close()
    return out, how


def log_count(srv, text):
    return srv.log().count(text)


def tail(srv, n=1500):
    return srv.log()[-n:]


# ---- the certificate ----
cert1, key1 = make_cert(TMP, "127.0.0.1", "one")
r = subprocess.run(["openssl", "x509", "-in", cert1, "-noout", "-ext", "subjectAltName,basicConstraints",
                    "-enddate"], capture_output=True, text=True)
ok(r.returncode == 0 and "IP Address:127.0.0.1" in r.stdout,
   "--make-cert writes a certificate with IP:127.0.0.1 as subjectAltName")
note(r.stdout.strip())
kmode = os.stat(key1).st_mode & 0o777
ok(kmode & 0o077 == 0, "--make-cert writes the key without group/other access (mode %o)" % kmode)
ctx1 = tls_client_context(cert1)

conf = tls_conf(cert1, key1, **{"tls-handshake-timeout": HS_TIMEOUT, "longpoll-timeout": 15,
                                "log-level": "debug"})
with Server(conf) as srv:
    port = tls_port(srv)
    note("TLS port %d" % port)

    # ---- https long polling ----
    cid = new_id()
    s = tls_poll(srv, ctx1, srv.signed(cid))
    ok(s.selected_alpn_protocol() == "http/1.1", "ALPN http/1.1 negotiated (Python client: %s)"
       % s.selected_alpn_protocol())
    ok(s.compression() is None, "no TLS compression")
    ok(s.version() in ("TLSv1.2", "TLSv1.3"), "TLS version %s" % s.version())
    publish_text(srv, cid, json.dumps({"hello": "https"}))
    s.settimeout(5)
    st, h, body = read_response(s)
    frames = text_frames(body)
    ok(st == 200 and [f["text"] for f in frames] == [{"hello": "https"}],
       "long poll over https (verified certificate) receives the published message")
    # the same TLS connection carries a second long poll (keep-alive)
    try:
        tls_poll(srv, ctx1, srv.signed(cid), "&mid=" + frames[0]["mid"], sock=s)
        publish_text(srv, cid, json.dumps({"second": 2}))
        st2, _, body2 = read_response(s)
        got2 = [f["text"] for f in text_frames(body2)]
    except (OSError, IndexError, ssl.SSLError) as e:
        note("keep-alive: %r" % (e,))
        st2, got2 = None, None
    ok(st2 == 200 and got2 == [{"second": 2}], "a second long poll on the same TLS connection works")
    s.close()

    # a big message (many TLS records) over https
    big = "x" * 300000
    cid = new_id()
    s = tls_poll(srv, ctx1, srv.signed(cid))
    publish_text(srv, cid, json.dumps({"big": big}))
    s.settimeout(10)
    st, _, body = read_response(s)
    s.close()
    ok(st == 200 and [f["text"] for f in text_frames(body)] == [{"big": big}],
       "a 300 KB message arrives intact over https")

    # ---- WebSocket over TLS ----
    cid = new_id()
    ws = TLSWSClient(port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid), ctx1)
    ok(ws.status == 101 and ws.accept_ok, "wss upgrade: 101 with a valid Sec-WebSocket-Accept")
    publish_text(srv, cid, json.dumps({"hello": "wss"}))
    data = ws.recv_data(5)
    ok(data is not None and [f["text"] for f in text_frames(data)] == [{"hello": "wss"}],
       "wss: a published message arrives as a text frame")
    ws.ping(b"tls-ping")
    f = None
    deadline = time.time() + 5
    while time.time() < deadline:
        f = ws.recv_frame(max(0.0, deadline - time.time()))
        if f is None or f.opcode == OP_PONG:
            break
    ok(f is not None and f.opcode == OP_PONG and f.payload == b"tls-ping",
       "wss: a client ping is answered with its pong")
    # a burst of 40 x 20 KB messages to a slow reader with a small receive buffer
    cid_b = new_id()
    slow = TLSWSClient(port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid_b), ctx1, rcvbuf=4096)
    chunk = "y" * 20000
    for i in range(40):
        publish_text(srv, cid_b, json.dumps({"i": i, "c": chunk}))
    time.sleep(0.5)
    got = []
    while len(got) < 40:
        d = slow.recv_data(5)
        if d is None:
            break
        got += [fr["text"] for fr in text_frames(d)]
    ok([g["i"] for g in got] == list(range(40)) and all(g["c"] == chunk for g in got),
       "wss: 40 x 20 KB published at once reach a slow reader intact and in order (%d)" % len(got))
    slow.close(1000)
    slow.shutdown()
    # protobuf (binaryMode) over wss
    cidp = new_id()
    wsb = TLSWSClient(port, "/bitrix/subws/?CHANNEL_ID=%s&binaryMode=true" % srv.signed(cidp), ctx1)
    token = new_id()
    publish_text(srv, cidp, json.dumps({"module_id": "t", "command": "c", "params": {"tok": token}}))
    m = wsb.recv_message(5)
    ok(wsb.status == 101 and m is not None and m[0] == OP_BINARY and token.encode() in m[1],
       "wss binaryMode=true: the message arrives as a binary (protobuf) frame")
    wsb.close(1000)
    wsb.shutdown()

    # ---- protocol versions, ALPN, compression, renegotiation, ciphers (openssl s_client) ----
    for v in ("-tls1", "-tls1_1"):
        rc, out = s_client(port, [v, "-cipher", "DEFAULT:@SECLEVEL=0"], timeout=10)
        ok(not handshake_done(out) and "alert protocol version" in out,
           "s_client %s is refused by the server (protocol_version alert)" % v)
        if handshake_done(out) or "alert protocol version" not in out:
            note(out[-800:])
    for v, proto in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        rc, out = s_client(port, [v, "-alpn", "http/1.1"], cafile=cert1)
        good = (handshake_done(out) and "New, %s," % proto in out
                and "ALPN protocol: http/1.1" in out and "Compression: NONE" in out
                and "Verify return code: 0 (ok)" in out)
        ok(good, "s_client %s works: verified, ALPN http/1.1, no compression" % v)
        if not good:
            note(out[-1500:])
    rc, out = s_client(port, ["-tls1_2", "-alpn", "h2"], cafile=cert1)
    ok(handshake_done(out) and "No ALPN negotiated" in out,
       "ALPN offering only h2: the handshake works without ALPN (no h2 selected)")
    rc, out = s_client(port, ["-tls1_2"], cafile=cert1)
    ok("Secure Renegotiation IS supported" in out,
       "TLS 1.2: the RFC 5746 secure-renegotiation extension is announced")
    # client-initiated renegotiation: "R" on s_client's stdin
    proc = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2",
                             "-CAfile", cert1], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    time.sleep(0.7)
    try:
        proc.stdin.write(b"R\n")
        proc.stdin.flush()
        time.sleep(1.0)
        proc.stdin.close()
    except OSError:
        pass
    out = finish(proc)
    after = out.split("RENEGOTIATING", 1)[1] if "RENEGOTIATING" in out else ""
    refused = "RENEGOTIATING" in out and ("no renegotiation" in after or "alert" in after) \
        and "Cipher is" not in after
    ok(refused, "client-initiated renegotiation (s_client R) is refused (no_renegotiation)")
    if not refused:
        note(out[-1200:])
    # TLS 1.3 KeyUpdate from the client, then an HTTP request on the same connection
    cid = new_id()
    proc = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_3",
                             "-CAfile", cert1, "-crlf"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.7)
    token = new_id()
    try:
        proc.stdin.write(b"K\n")
        proc.stdin.flush()
        time.sleep(0.3)
        before = server_stat(srv)["pollings"]
        proc.stdin.write(("GET /bitrix/sub/?CHANNEL_ID=%s HTTP/1.1\nHost: x\n\n"
                          % srv.signed(cid)).encode())
        proc.stdin.flush()
        wait_for(lambda: server_stat(srv)["pollings"] > before, 4)
        publish_text(srv, cid, json.dumps({"ku": token}))
        time.sleep(0.7)
        proc.stdin.close()
    except OSError:
        pass
    out = finish(proc)
    ok("KEYUPDATE" in out and token in out,
       "TLS 1.3: after a client KeyUpdate (s_client K) the long poll is answered")
    if not ("KEYUPDATE" in out and token in out):
        note(out[-1200:])
    weak = [("-tls1_2", "-cipher", "AES128-SHA"),
            ("-tls1_2", "-cipher", "AES128-GCM-SHA256"),
            ("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"),
            ("-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384"),
            ("-tls1_2", "-cipher", "NULL-SHA256:@SECLEVEL=0"),
            ("-tls1_2", "-cipher", "ADH-AES128-GCM-SHA256:@SECLEVEL=0"),
            ("-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_8_SHA256")]
    for args in weak:
        rc, out = s_client(port, list(args))
        ok(not handshake_done(out), "weak/unwanted cipher refused: %s" % " ".join(args))
        if handshake_done(out):
            note(re.findall(r".*Cipher is.*", out))
    rc, out = s_client(port, ["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"], cafile=cert1)
    ok(handshake_done(out) and "ECDHE-ECDSA-CHACHA20-POLY1305" in out,
       "TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305 is accepted")

    # ---- plain HTTP and garbage on the TLS port ----
    t0 = time.time()
    resp, how = raw_rst(port, b"GET /bitrix/sub/?CHANNEL_ID=abc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    dt = time.time() - t0
    ok(resp.startswith(b"HTTP/1.1 400") and b"https://" in resp and b"wss://" in resp and dt < 1.5
       and how != "timeout",
       "plain HTTP on the TLS port: 400 naming https:// and wss://, then close (%.2fs, %s)" % (dt, how))
    if how == "reset":
        note("the 400 is followed by a TCP RST, not a FIN: the peeked request stays unread in the "
             "server's receive queue when it closes (a client that reads late may lose the 400)")
    if not resp.startswith(b"HTTP/1.1 400"):
        note(repr(resp[:300]))
    hb = resp.split(b"\r\n\r\n", 1)
    clen = re.search(rb"Content-Length: (\d+)", resp)
    ok(len(hb) == 2 and clen and int(clen.group(1)) == len(hb[1]),
       "the 400's Content-Length matches its body")
    for desc, data in (("random bytes", b"\x00" + os.urandom(300)),
                       ("a TLS record header followed by junk", b"\x16\x03\x01\x00\x40" + os.urandom(64)),
                       ("lower-case text", b"hello there\r\n\r\n")):
        t0 = time.time()
        resp, how = raw_rst(port, data, timeout=HS_TIMEOUT + 3)
        dt = time.time() - t0
        ok(dt < 1.5 and how != "timeout" and not resp.startswith(b"HTTP"),
           "%s on the TLS port: closed at once (%.2fs, %s, %d bytes back)" % (desc, dt, how, len(resp)))

    # ---- handshake timeout; others are served meanwhile ----
    hello = client_hello()
    ok(len(hello) > 100 and hello[0] == 0x16, "built a ClientHello (%d bytes)" % len(hello))
    idle = connect(port, 10)
    half = connect(port, 10)
    half.sendall(hello[:len(hello) // 2])
    t_start = time.time()
    lp_roundtrip(srv, ctx1, "an https long poll is served while two handshakes hang")
    t_idle = wait_eof(idle, HS_TIMEOUT + 5)
    t_idle = None if t_idle is None else time.time() - t_start
    t_half = wait_eof(half, HS_TIMEOUT + 5)
    t_half = None if t_half is None else time.time() - t_start
    ok(t_idle is not None and HS_TIMEOUT - 0.3 <= t_idle <= HS_TIMEOUT + 1.5,
       "a TCP connection that sends nothing is closed after tls-handshake-timeout=%d (%s s)"
       % (HS_TIMEOUT, None if t_idle is None else "%.2f" % t_idle))
    ok(t_half is not None and HS_TIMEOUT - 0.3 <= t_half <= HS_TIMEOUT + 1.5,
       "half a ClientHello is closed after tls-handshake-timeout=%d (%s s)"
       % (HS_TIMEOUT, None if t_half is None else "%.2f" % t_half))
    idle.close()
    half.close()

    # a completed handshake is not subject to the handshake timeout
    cid = new_id()
    s = tls_poll(srv, ctx1, srv.signed(cid))
    time.sleep(HS_TIMEOUT + 1)
    publish_text(srv, cid, json.dumps({"late": 1}))
    try:
        s.settimeout(5)
        st, _, body = read_response(s)
    except (OSError, ssl.SSLError) as e:
        note(repr(e))
        st, body = None, b""
    s.close()
    ok(st == 200 and b"late" in body,
       "an https long poll held longer than tls-handshake-timeout still gets its message")

    # ---- 200 half-done handshakes at once ----
    crowd = []
    try:
        for i in range(200):
            c = connect(port, 10)
            c.sendall(hello[:len(hello) // 2] if i % 2 else hello[:5])
            crowd.append(c)
    except OSError as e:
        note("crowd: %r after %d" % (e, len(crowd)))
    t_start = time.time()
    dt = lp_roundtrip(srv, ctx1, "200 half-done handshakes open: an https long poll still works")
    ok(dt < 1.5, "... and answers quickly (%.2fs)" % dt)
    deadline = t_start + HS_TIMEOUT + 4
    closed = 0
    pending = list(crowd)
    while pending and time.time() < deadline:
        r, _, _ = select.select(pending, [], [], 0.2)
        for c in r:
            try:
                b = c.recv(4096)
            except (ConnectionResetError, OSError):
                b = b""
            if not b:
                closed += 1
                pending.remove(c)
    ok(closed == len(crowd) == 200,
       "all 200 half-done handshakes are closed by the handshake timeout (%d, %.1fs)"
       % (closed, time.time() - t_start))
    for c in crowd:
        c.close()
    lp_roundtrip(srv, ctx1, "after the crowd: https long poll works")

    # ---- SIGHUP: reload the certificate in place ----
    cid_ws = new_id()
    wsr = TLSWSClient(port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid_ws), ctx1)
    token = new_id()
    publish_text(srv, cid_ws, json.dumps({"n": 1, "tok": token}))
    d = wsr.recv_data(5)
    ok(wsr.status == 101 and d is not None and token.encode() in d, "wss for the reload test receives")
    fp_old = cert_fingerprint(cert1)
    ok(peer_fp(port, ctx1) == fp_old, "new connections see certificate one (sha256 %s…)" % fp_old[:16])
    make_cert(TMP, "127.0.0.1", "one")  # atomically replaces cert and key at the same paths
    fp_new = cert_fingerprint(cert1)
    ctx2 = tls_client_context(cert1)
    n_reload = log_count(srv, "TLS certificate reloaded")
    srv.signal(signal.SIGHUP)
    ok(wait_for(lambda: log_count(srv, "TLS certificate reloaded") > n_reload, 5),
       "SIGHUP: the log says the certificate was reloaded")
    try:
        fp_seen = peer_fp(port, ctx2)
    except (OSError, ssl.SSLError) as e:
        note("after reload: %r" % e)
        fp_seen = None
    ok(fp_seen == fp_new and fp_new != fp_old,
       "after SIGHUP new connections see the new certificate, verified (sha256 %s…)" % fp_new[:16])
    try:
        tls_connect(port, ctx1).close()
        old_trusted = True
    except ssl.SSLCertVerificationError:
        old_trusted = False
    ok(not old_trusted, "a client trusting only the old certificate now fails verification")
    for i in (2, 3):
        token = new_id()
        publish_text(srv, cid_ws, json.dumps({"n": i, "tok": token}))
        d = wsr.recv_data(5)
        ok(d is not None and token.encode() in d,
           "the wss opened before the reload keeps receiving (message %d)" % i)
    lp_roundtrip(srv, ctx2, "https long poll with the new certificate")

    # ---- SIGHUP with a bad new certificate keeps the old one ----
    bad_pem = os.path.join(TMP, "garbage.pem")
    with open(bad_pem, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    other_cert, other_key = make_cert(TMP, "127.0.0.1", "other")
    bads = [("a garbage certificate file", {"tls-certificate": bad_pem}),
            ("a key that does not match", {"tls-key": other_key}),
            ("a missing key file", {"tls-key": os.path.join(TMP, "nope.pem")})]
    for desc, extra in bads:
        n_fail = log_count(srv, "reload failed")
        srv.write_conf(extra)
        srv.signal(signal.SIGHUP)
        failed = wait_for(lambda: log_count(srv, "reload failed") > n_fail, 5)
        ok(failed and "keeping the running config and certificate" in srv.log(),
           "SIGHUP with %s: the log says reload failed, keeping the certificate" % desc)
        try:
            fp_seen = peer_fp(port, ctx2)
        except (OSError, ssl.SSLError) as e:
            note("after bad reload: %r" % e)
            fp_seen = None
        ok(fp_seen == fp_new, "... new connections still get the running certificate")
        token = new_id()
        publish_text(srv, cid_ws, json.dumps({"tok": token}))
        d = wsr.recv_data(5)
        ok(d is not None and token.encode() in d, "... the open wss keeps receiving")
        lp_roundtrip(srv, ctx2, "... and https long polling works")
    note("\n".join(l for l in srv.log().splitlines() if "reload" in l)[-1500:])
    srv.write_conf()  # back to the good config
    wsr.close(1000)
    wsr.shutdown()
    ok(srv.proc.poll() is None, "the server is still running after all of the above")


# ---- curl over https, and TLS on the publish port (listen-publish-tls) ----
from pbtest import free_port
pub_tls = free_port()
with Server(tls_conf(cert1, key1, **{"listen-publish-tls": "127.0.0.1:%d" % pub_tls})) as srv:
    cid = new_id()
    lp = subprocess.Popen(["curl", "-s", "-i", "--max-time", "10", "--cacert", cert1,
                           "https://127.0.0.1:%d/bitrix/sub/?CHANNEL_ID=%s" % (tls_port(srv),
                                                                          srv.signed(cid))],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    pub = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                          "--cacert", cert1, "-H", "Message-Expiry: 60", "--data", '"via-https-publish"',
                          "https://127.0.0.1:%d/bitrix/pub/?CHANNEL_ID=%s" % (pub_tls, cid)],
                         capture_output=True, text=True)
    ok(pub.stdout == "200", "curl publishes over https on listen-publish-tls (%s)" % pub.stdout)
    out, _ = lp.communicate(timeout=15)
    ok(out.startswith(b"HTTP/1.1 200") and b"via-https-publish" in out,
       "curl's https long poll (verified against the certificate) receives it (%r)" % out[:40])
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                        "--cacert", cert1, "https://127.0.0.1:%d/health" % pub_tls],
                       capture_output=True, text=True)
    ok(r.stdout == "200", "the publish paths (/health) answer over TLS too (%s)" % r.stdout)
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                        "--cacert", cert1, "https://127.0.0.1:%d/health" % tls_port(srv)],
                       capture_output=True, text=True)
    ok(r.stdout == "404", "but not on the subscribe TLS port (%s)" % r.stdout)

# ---- start failures ----
def start_fails(desc, extra, want):
    srv = Server(tls_conf(cert1, key1, **extra), start=False)
    try:
        r = subprocess.run([binary(), "-c", srv.conf_path], capture_output=True, text=True,
                           timeout=15, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
        rc, err = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        rc, err = None, "[still running after 15 s]"
    good = rc not in (0, None) and want in err and "Sanitizer" not in err
    ok(good, "start with %s: exits non-zero with %r" % (desc, want))
    if not good:
        note("exit %s, output: %s" % (rc, err.strip()[-800:]))


other_cert, other_key = make_cert(TMP, "127.0.0.1", "other")
start_fails("the key of another certificate (both P-256)", {"tls-key": other_key},
            "tls-key: %s does not match tls-certificate %s" % (other_key, cert1))
rsa_key = os.path.join(TMP, "rsa-key.pem")
subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                "-out", rsa_key], capture_output=True, check=True)
start_fails("an RSA key for the ECDSA certificate", {"tls-key": rsa_key},
            "tls-key: %s does not match tls-certificate %s" % (rsa_key, cert1))
missing = os.path.join(TMP, "missing-key.pem")
start_fails("a missing key file", {"tls-key": missing},
            "tls-key: %s: No such file or directory" % missing)
missing_c = os.path.join(TMP, "missing-cert.pem")
start_fails("a missing certificate file", {"tls-certificate": missing_c},
            "tls-certificate: %s: No such file or directory" % missing_c)
if os.geteuid() != 0:
    unreadable = os.path.join(TMP, "unreadable-key.pem")
    with open(unreadable, "w") as f:
        f.write(open(key1).read())
    os.chmod(unreadable, 0)
    start_fails("an unreadable key file", {"tls-key": unreadable},
                "tls-key: %s: Permission denied" % unreadable)
else:
    note("running as root: mode 000 files stay readable, the permission case is not tried")
start_fails("a directory as the key", {"tls-key": TMP}, "tls-key: %s" % TMP)
start_fails("a key file that is a certificate", {"tls-key": cert1},
            "tls-key: %s: not a PEM private key" % cert1)
start_fails("a certificate file that is a key", {"tls-certificate": key1},
            "tls-certificate: %s: not a PEM certificate" % key1)


def ca_signed(stem, start, end):
    """A self-signed P-256 certificate with the given validity (openssl ca)."""
    d = os.path.join(TMP, "ca-" + stem)
    os.makedirs(d)
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\n"
                "default_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n"
                % (d, d, d))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    key, csr, cert = (os.path.join(d, n) for n in ("key.pem", "req.csr", "cert.pem"))
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
                   capture_output=True, check=True)
    r = subprocess.run(["openssl", "ca", "-batch", "-config", os.path.join(d, "ca.cnf"), "-selfsign",
                        "-keyfile", key, "-in", csr, "-out", cert, "-startdate", start, "-enddate",
                        end, "-notext"], capture_output=True, text=True)
    if r.returncode != 0:
        note(r.stderr)
    return cert, key


exp_cert, exp_key = ca_signed("expired", "20200101000000Z", "20200102000000Z")
start_fails("an expired certificate", {"tls-certificate": exp_cert, "tls-key": exp_key},
            "tls-certificate: %s expired on Jan  2 00:00:00 2020 GMT" % exp_cert)
fut_cert, fut_key = ca_signed("future", "20990101000000Z", "20991231000000Z")
start_fails("a certificate not yet valid", {"tls-certificate": fut_cert, "tls-key": fut_key},
            "tls-certificate: %s is not valid before Jan  1 00:00:00 2099 GMT" % fut_cert)
start_fails("tls-ciphers that match nothing", {"tls-ciphers": "NOSUCHCIPHER"},
            'tls-ciphers: no usable cipher in "NOSUCHCIPHER"')

# ---- tls-min-version = 1.3 ----
with Server(tls_conf(cert1, key1, **{"tls-min-version": "1.3"})) as srv13:
    p13 = tls_port(srv13)
    rc, out = s_client(p13, ["-tls1_2"])
    ok(not handshake_done(out), "tls-min-version 1.3: TLS 1.2 is refused")
    rc, out = s_client(p13, ["-tls1_3"], cafile=cert1)
    ok(handshake_done(out) and "TLSv1.3" in out, "tls-min-version 1.3: TLS 1.3 works")


# ---- memory per idle TLS connection (notes only) ----
def open_conns(kind, msrv, ctx, n):
    conns = []
    mport = tls_port(msrv)
    for i in range(n):
        path_ws = "/bitrix/subws/?CHANNEL_ID=" + msrv.signed(new_id())
        if kind == "wss":
            conns.append(TLSWSClient(mport, path_ws, ctx))
        elif kind == "ws":
            conns.append(WSClient(msrv.sub_port, path_ws))
        else:
            s = (tls_connect(mport, ctx, timeout=10) if kind == "https long poll"
                 else connect(msrv.sub_port, 10))
            s.sendall(build_request("GET", "/bitrix/sub/?CHANNEL_ID=" + msrv.signed(new_id())))
            conns.append(s)
    return conns


def measure(bin_path, kind, n=1000):
    """A fresh server per kind: VmRSS before and after n idle connections."""
    old = os.environ.get("PULLBOX_BIN")
    os.environ["PULLBOX_BIN"] = bin_path
    try:
        msrv = Server(tls_conf(cert1, key1, **{"longpoll-timeout": 300, "ws-ping-interval": 300,
                                               "idle-timeout": 600, "log-level": "warn"}))
    finally:
        if old is None:
            del os.environ["PULLBOX_BIN"]
        else:
            os.environ["PULLBOX_BIN"] = old
    ctx = tls_client_context(cert1)  # the certificate now in cert1 (replaced by the reload test)
    stat = "websockets" if kind in ("wss", "ws") else "pollings"
    label = os.path.basename(bin_path)
    with msrv:
        lp_roundtrip(msrv, ctx, "%s, %s: warm-up https long poll" % (label, kind))
        time.sleep(0.3)
        base = vm_rss_kib(msrv.pid)
        t0 = time.time()
        try:
            conns = open_conns(kind, msrv, ctx, n)
        except (OSError, ssl.SSLError) as e:
            note("%s: %r" % (kind, e))
            conns = []
        held = wait_for(lambda: server_stat(msrv)[stat] >= n, 10)
        dt = time.time() - t0
        time.sleep(0.5)
        rss = vm_rss_kib(msrv.pid)
        ok(held, "%s, %s: %d idle connections held" % (label, kind, n))
        note("%s: %d idle %s connections: VmRSS %d -> %d KiB = %.1f KiB per connection "
             "(opened in %.1fs)" % (label, n, kind, base, rss, (rss - base) / n, dt))
        for c in conns:
            (c.shutdown if isinstance(c, WSClient) else c.close)()
        wait_for(lambda: server_stat(msrv)[stat] == 0, 10)
        time.sleep(0.5)
        note("%s: after closing them: VmRSS %d KiB" % (label, vm_rss_kib(msrv.pid)))
    return (rss - base) / n


plain = os.path.join(OUT, "pullboxd")
mbin = plain if os.path.exists(plain) else binary()
if mbin != plain:
    note("out/pullboxd not built: memory measured with %s" % mbin)
for kind in ("wss", "https long poll", "ws", "http long poll"):
    measure(mbin, kind)

done()
