// Resume after a lost connection: the SDK reconnects with mid=<last received id>
// and pullboxd must replay everything published meanwhile, in order, none twice.
//
// How the client is made to go away (why this way, from reading the SDK 2.2.0 source):
//  * "network cut": a TCP proxy (lib/proxy.mjs) sits between client and server; the
//    test resets the client's connection and holds new connections. The SDK sees an
//    unexpected close (WS 1006 / XHR status 0) and, because _connectionAttempt was
//    reset to 0 when the connection opened, reconnects after 0.5 s
//    (getConnectionAttemptDelay(0)). That reconnect is held by the proxy while the test
//    publishes, then released: the SDK's request carries mid=<session.mid>. (A refused
//    reconnect would instead back off 15 s, and pullboxd cannot be restarted here.)
//  * "SDK reconnect()": PullClient.reconnect(code, reason, delaySeconds) is the SDK's
//    own disconnect + scheduleReconnect(delay); the client stays away `delay` seconds.
//  * "new instance": a page reload. A fresh PullClient keeps _session.mid across
//    start() (start() only overwrites it from localStorage, which skipStorageInit
//    disables), so setLastMessageId(oldMid) before start() is exactly what the SDK
//    does when it restores a persisted session.
// Plus: a client without mid gets no history (PS1/PS2 semantics, PROTOCOL §7.2).

import { Tap, sleep, fail, waitFor } from './lib/tap.mjs';
import { startServer } from './lib/server.mjs';
import { payload, publishAs } from './lib/bitrix.mjs';
import { newClient, urlParam } from './lib/client.mjs';
import { startProxy } from './lib/proxy.mjs';

const t = new Tap('resume');
let srv;
try {
  srv = await startServer({ longpollTimeout: 2 });
  t.ok(true, `pullboxd starts (pid ${srv.pid})`);
} catch (e) {
  t.ok(false, 'pullboxd starts', e.message);
  await t.done();
}

const BEFORE = 3;
const AWAY = 4;

function formatsFor(version) {
  if (version === 5) return ['rpc-channel', 'rpc-user'];
  return version === 4 ? ['text', 'protobuf'] : ['text'];
}
async function pub(c, i) {
  const fmts = formatsFor(c.version);
  await publishAs(fmts[i % fmts.length], srv, { privIds: [c.user.priv], userIds: [c.user.userId], body: payload('test', 'r', { i, pad: 'é'.repeat(i * 10) }) });
}
const rs = (c) => c.received.filter((m) => m.command === 'r');
const seqOf = (c) => rs(c).map((m) => m.params.i);
function checkExactly(c, want, what) {
  const got = seqOf(c);
  if (got.join() !== want.join()) fail(`${what}: expected [${want.join(',')}], got [${got.join(',')}]`, c.debugText());
  const dup = c.rawMids.filter((m, k) => c.rawMids.indexOf(m) !== k);
  if (dup.length) fail(`${what}: server sent message ids twice: ${dup.join(',')}`, c.debugText());
}
const range = (a, b) => Array.from({ length: b - a }, (_, k) => a + k);

async function phase1(c) {
  await c.start();
  await sleep(200);
  for (let i = 0; i < BEFORE; i++) await pub(c, i);
  await c.waitCount(BEFORE, { timeout: 6000, filter: (m) => m.command === 'r' });
  const mid = c.client.session.mid;
  if (!mid) fail('SDK has no session.mid after receiving messages', c.debugText());
  return mid;
}

for (const version of [3, 4, 5]) {
  for (const transport of ['ws', 'lp']) {
    if (version === 5 && transport === 'lp') continue; // V5 is JSON-RPC over WebSocket (§4.6)
    const tag = `V${version} ${transport === 'ws' ? 'websocket' : 'long-polling'}`;

    // ---- network cut, reconnect held in the proxy ----
    await t.test(`${tag}: network cut → SDK reconnects with mid= → gets the ${AWAY} missed messages, in order, none twice`, async () => {
      const proxy = await startProxy(srv.subPort);
      const c = await newClient(srv, { version, transport, base: proxy.base });
      try {
        const lastMid = await phase1(c);
        const nConn = transport === 'ws' ? c.sockets().length : c.polls().length;
        proxy.hold();
        const cut = proxy.cut();
        if (transport === 'ws') {
          if (!cut) fail('proxy had no live connection to cut');
          await waitFor(() => !c.connected(), { timeout: 3000, what: 'the SDK to notice the cut' });
          const closed = c.sockets().at(-1);
          if (closed.closeCode !== 1006) fail(`expected abnormal close 1006, got ${closed.closeCode}`);
        }
        // the SDK's reconnect (0.5 s backoff for WS; next poll for LP) is now parked in the proxy
        await waitFor(() => proxy.stats.held > 0, { timeout: 4000, what: 'the SDK to try to reconnect' });
        for (let i = BEFORE; i < BEFORE + AWAY; i++) await pub(c, i);
        await sleep(300);
        if (seqOf(c).length !== BEFORE) fail(`received messages while cut off?! ${seqOf(c).join()}`);
        proxy.release();
        await c.waitCount(BEFORE + AWAY, { timeout: 8000, filter: (m) => m.command === 'r' });
        await sleep(500);
        checkExactly(c, range(0, BEFORE + AWAY), 'after resume');
        const recs = transport === 'ws' ? c.sockets() : c.polls();
        const again = recs.slice(nConn);
        if (!again.length) fail('no reconnect request recorded', c.debugText());
        const mid = urlParam(again[0].url, 'mid');
        if (transport === 'ws' && mid !== lastMid) fail(`reconnect URL mid=${mid}, expected ${lastMid}`);
        if (!mid) fail(`reconnect URL has no mid: ${again[0].url}`);
        // and it is live again afterwards
        await pub(c, BEFORE + AWAY);
        await c.waitCount(BEFORE + AWAY + 1, { timeout: 5000, filter: (m) => m.command === 'r' });
        checkExactly(c, range(0, BEFORE + AWAY + 1), 'live after resume');
      } finally { c.destroy(); await proxy.close(); }
    }, { timeout: 30000 });

    // ---- the SDK's own reconnect(code, reason, delay) ----
    if (version === 4) {
      await t.test(`${tag}: client.reconnect(3004, …, 2 s) → back with mid= → gets the messages published meanwhile`, async () => {
        const c = await newClient(srv, { version, transport });
        try {
          await phase1(c);
          const nConn = transport === 'ws' ? c.sockets().length : c.polls().length;
          c.client.reconnect(3004, 'test: away for 2 s', 2);
          await sleep(100);
          for (let i = BEFORE; i < BEFORE + AWAY; i++) await pub(c, i);
          await c.waitCount(BEFORE + AWAY, { timeout: 8000, filter: (m) => m.command === 'r' });
          await sleep(500);
          checkExactly(c, range(0, BEFORE + AWAY), 'after reconnect');
          const recs = (transport === 'ws' ? c.sockets() : c.polls()).slice(nConn);
          if (!recs.length || !urlParam(recs[0].url, 'mid')) fail(`reconnect without mid: ${recs[0] && recs[0].url}`);
        } finally { c.destroy(); }
      }, { timeout: 20000 });
    }

    // ---- a new client instance resuming the old session's mid (page reload) ----
    if (version === 4 || transport === 'ws') {
      await t.test(`${tag}: new client instance with the old mid gets exactly the missed messages`, async () => {
        const c = await newClient(srv, { version, transport });
        let c2;
        try {
          const lastMid = await phase1(c);
          c.destroy();
          await sleep(200);
          for (let i = BEFORE; i < BEFORE + AWAY; i++) await pub(c, i);
          c2 = await newClient(srv, { version, transport, user: c.user, shared: c.shared, name: `${c.name}-reload` });
          c2.client.setLastMessageId(lastMid);
          await c2.start();
          const first = (transport === 'ws' ? c2.sockets() : c2.polls())[0];
          if (urlParam(first.url, 'mid') !== lastMid) fail(`first connect mid=${urlParam(first.url, 'mid')}, expected ${lastMid}`);
          await c2.waitCount(AWAY, { timeout: 8000, filter: (m) => m.command === 'r' });
          await sleep(500);
          checkExactly(c2, range(BEFORE, BEFORE + AWAY), 'reloaded client');
        } finally { c.destroy(); if (c2) c2.destroy(); }
      }, { timeout: 20000 });
    }
  }
}

await t.test('V4 websocket: a client without mid gets no stored history, only new messages', async () => {
  const c = await newClient(srv, { version: 4, transport: 'ws' });
  let c2;
  try {
    await phase1(c);
    c.destroy();
    c2 = await newClient(srv, { version: 4, transport: 'ws', user: c.user, shared: c.shared, name: `${c.name}-nomid` });
    await c2.start();
    await sleep(700);
    if (rs(c2).length) fail(`history replayed without mid: ${seqOf(c2).join()}`);
    await pub(c2, 99);
    await c2.waitCount(1, { timeout: 5000, filter: (m) => m.command === 'r' });
    checkExactly(c2, [99], 'fresh client');
  } finally { c.destroy(); if (c2) c2.destroy(); }
}, { timeout: 15000 });

const ex = srv.exited();
t.ok(!ex, 'pullboxd still running', `exited: ${JSON.stringify(ex)}\n${srv.log()}`);
await t.done();
