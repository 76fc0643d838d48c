#!/usr/bin/env python3
"""Messages that pile up for a WebSocket within one turn (pipelined
publishes, a backlog that grew) are framed a bounded batch at a time: no
frame carries much more than 16 KiB of bodies plus one message, so a client
that caps its frames (1 MiB is a common default, some load generators take
128 KiB) is never sent one past it, and every message arrives once, in order."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pbtest import Server, ok, note, done, new_id, connect, build_request, text_frames  # noqa: E402
from wsclient import WSClient, OP_TEXT  # noqa: E402

N, BODY = 80, 2000
CAP = 16 * 1024 + 2 * BODY + 4096  # the batch, one more message, envelopes


def main():
    with Server({"workers": 1}) as srv:
        cid = new_id()
        c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid))
        ok(c.status == 101, "a WebSocket subscriber is connected")
        # every publish in one write: the server reads and handles them in one turn
        reqs = b"".join(build_request("POST", "/bitrix/pub/?CHANNEL_ID=" + cid, json.dumps(
            {"module_id": "t", "command": "b", "params": {"n": i, "pad": "x" * BODY}}))
            for i in range(N))
        p = connect(srv.pub_port, timeout=10)
        p.sendall(reqs)
        got, sizes = [], []
        deadline = time.time() + 15
        while len(got) < N and time.time() < deadline:
            m = c.recv_message(1.0)
            if m and m[0] == OP_TEXT:
                sizes.append(len(m[1]))
                got += [f["text"]["params"]["n"] for f in text_frames(m[1])]
        p.close()
        note("%d messages in %d frames, the largest %d bytes" % (len(got), len(sizes), max(sizes or [0])))
        ok(got == list(range(N)), "all %d messages arrived once, in order (%d)" % (N, len(got)))
        ok(sizes and max(sizes) <= CAP, "no frame is larger than %d bytes (largest %d)" % (CAP, max(sizes or [0])))
        ok(len(sizes) > 1, "%d frames: the batch was split" % len(sizes))
        c.shutdown()
    done()


if __name__ == "__main__":
    main()
