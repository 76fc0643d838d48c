"""A WebSocket subscriber that reads every message in a background thread
and keeps the "n" parameter of each, in arrival order, and when it arrived:
the witness of the hostile-client tests (every message, in order, while
someone misbehaves)."""
import threading
import time

from pbtest import text_frames
from wsclient import WSClient, OP_TEXT, OP_CLOSE


class WSReader(threading.Thread):
    def __init__(self, srv, cid, timeout=10, source=None):
        super().__init__(daemon=True)
        self.c = WSClient(srv.sub_port, "/bitrix/subws/?CHANNEL_ID=" + srv.signed(cid),
                          timeout=timeout, source=source)
        self.ns = []
        self.arrived = {}  # n -> time.time() when it arrived
        self.stop = threading.Event()
        self.start()

    def run(self):
        while not self.stop.is_set():
            m = self.c.recv_message(0.2)
            if m is None:
                if self.c.closed_by_peer:
                    return
                continue
            if m[0] == OP_CLOSE:
                return
            if m[0] == OP_TEXT:
                now = time.time()
                for f in text_frames(m[1]):
                    n = f["text"]["params"]["n"]
                    self.ns.append(n)
                    self.arrived.setdefault(n, now)

    def wait_for(self, n, timeout=10):
        """True once n messages have arrived (false after timeout)."""
        deadline = time.time() + timeout
        while len(self.ns) < n and time.time() < deadline and self.is_alive():
            time.sleep(0.05)
        return len(self.ns) >= n

    def finish(self):
        self.stop.set()
        self.join(2)
        self.c.shutdown()
