#!/usr/bin/env python3
"""The Bitrix site checker's queue-server round trip (docs/protocol.md §7.8,
main site_checker check_pull_stream), done the way PHP does it: raw HTTP/1.0
sockets, a text publish that must answer JSON-decodable, and a DELETE."""
import email.utils
import hashlib
import json
import os
import secrets
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import Server, ok, note, done, connect  # noqa: E402


def read_all(sock, limit=None, timeout=5):
    """Reads until close (or limit bytes, or timeout)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and (limit is None or len(data) < limit):
            d = sock.recv(4096 if limit is None else min(4096, limit - len(data)))
            if not d:
                break
            data += d
    except (socket.timeout, ConnectionResetError) as e:
        note("read: %r" % (e,))
    return data


def split(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        status = None
    return status, body


def round_trip(srv, sub_path):
    channel_id = hashlib.md5(secrets.token_bytes(16)).hexdigest()
    signed = srv.signed(channel_id)
    ims = email.utils.formatdate(time.time() - 86400, usegmt=True)
    sub = connect(srv.sub_port, 10)
    sub.sendall(("GET %s?CHANNEL_ID=%s HTTP/1.0\r\nIf-Modified-Since: %s\r\nHost: 127.0.0.1\r\n\r\n"
                 % (sub_path, signed, ims)).encode())
    time.sleep(1)
    text = hashlib.md5(secrets.token_bytes(16)).hexdigest()
    pub = connect(srv.pub_port, 10)
    pub.sendall(("POST /bitrix/pub/?CHANNEL_ID=%s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s"
                 % (channel_id, len(text), text)).encode())
    status, body = split(read_all(pub))
    pub.close()
    try:
        decoded = json.loads('{"infos": [' + body.decode() + ']}')
    except ValueError:
        decoded = None
    ok(status == 200 and isinstance(decoded, dict),
       "%s: publish answers 200 with a body that json-decodes inside {\"infos\": [...]} (%s %r)"
       % (sub_path, status, body[:80]))
    got = read_all(sub, limit=4096)
    sub.close()
    ok(text.encode() in got, "%s: the subscriber's first 4096 bytes contain the md5 string (%r)"
       % (sub_path, got[:300]))
    st, _ = split(got)
    ok(st == 200, "%s: the subscriber's answer is 200 (%s)" % (sub_path, st))
    d = connect(srv.pub_port, 10)
    d.sendall(("DELETE /bitrix/pub/?CHANNEL_ID=%s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % signed).encode())
    dresp = read_all(d)
    d.close()
    dst, _ = split(dresp)
    ok(dst is not None and dst < 500, "%s: DELETE with id.signature gets an answer (%s)" % (sub_path, dst))
    return channel_id


with Server({"longpoll-timeout": 5, "header-timeout": 2}) as srv:
    for path in ("/bitrix/sub/", "/bitrix/subws/"):
        round_trip(srv, path)
    # the server still works after the checker's DELETE
    cid = round_trip(srv, "/bitrix/sub/")
done()
