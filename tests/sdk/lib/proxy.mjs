// A TCP proxy between the SDK client and pullboxd, so a test can cut a client's
// connection the way a network failure would (RST), and hold reconnect attempts
// (accept the TCP connection but forward nothing) while it publishes.
//
// Why: after a successful connection the SDK reconnects 0.5 s after an unexpected
// close (getConnectionAttemptDelay(0), _connectionAttempt is reset to 0 in
// onWebSocketOpen/onLongPollingOpen); a *refused* reconnect would push the next attempt
// to 15 s. Holding the reconnect in the proxy keeps the client "away" for as long as
// the test needs, and its reconnect (carrying mid=) goes through the moment we release.

import net from 'node:net';
import { onCleanup } from './tap.mjs';

export async function startProxy(targetPort, targetHost = '127.0.0.1') {
  const pairs = new Set();
  const held = [];
  let holding = false;
  const stats = { accepted: 0, forwarded: 0, held: 0 };

  function forward(sock) {
    const up = net.connect(targetPort, targetHost);
    const pair = { sock, up };
    pairs.add(pair);
    stats.forwarded++;
    const done = () => { pairs.delete(pair); sock.destroy(); up.destroy(); };
    sock.on('error', done); up.on('error', done);
    sock.on('close', done); up.on('close', done);
    sock.pipe(up); up.pipe(sock);
    sock.resume();
  }

  const server = net.createServer({ pauseOnConnect: true }, (sock) => {
    stats.accepted++;
    if (holding) { stats.held++; held.push(sock); sock.on('error', () => {}); return; }
    forward(sock);
  });
  await new Promise((res, rej) => { server.on('error', rej); server.listen(0, '127.0.0.1', res); });
  const port = server.address().port;

  const proxy = {
    port,
    base: `http://127.0.0.1:${port}`,
    stats,
    live: () => pairs.size,
    /** new connections go to another port from now on (a client moving to another node) */
    retarget(newPort) { targetPort = newPort; },
    /** new connections are accepted but not forwarded until release() */
    hold() { holding = true; },
    release() {
      holding = false;
      for (const s of held.splice(0)) if (!s.destroyed) forward(s);
    },
    /** reset every forwarded connection (client sees ECONNRESET / close 1006) */
    cut() {
      let n = 0;
      for (const { sock, up } of [...pairs]) {
        n++;
        if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy(); else sock.destroy();
        up.destroy();
      }
      pairs.clear();
      return n;
    },
    close() {
      proxy.cut();
      for (const s of held.splice(0)) s.destroy();
      return new Promise((res) => server.close(() => res()));
    },
  };
  onCleanup(() => proxy.close());
  return proxy;
}
