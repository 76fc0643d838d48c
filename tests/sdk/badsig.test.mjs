// Wrong channel signatures (PROTOCOL §3 "Bad / missing signature", §7.7):
//   WebSocket: upgrade accepted, then closed with code 4010, reason "4010: Wrong Channel Id."
//   Long polling: HTTP 400, body "4010: Wrong Channel Id."
// observed with raw `ws` / fetch connections and with the SDK itself, while properly
// signed SDK clients (websocket + long polling) connected at the same time keep
// receiving everything. Also: signature-algorithm = sha256.

import WS from 'ws';
import { Tap, sleep, fail, diag } from './lib/tap.mjs';
import { startServer } from './lib/server.mjs';
import { makeUser, randHex, sign, payload, publishText, publishProtobuf, makeJwt, signedPrivate, signedShared } from './lib/bitrix.mjs';
import { newClient } from './lib/client.mjs';

const t = new Tap('badsig');
const REASON = '4010: Wrong Channel Id.';
let srv;
try {
  srv = await startServer({ longpollTimeout: 3 });
  t.ok(true, `pullboxd starts (pid ${srv.pid})`);
} catch (e) {
  t.ok(false, 'pullboxd starts', e.message);
  await t.done();
}
const key = srv.signatureKey;

/** open a raw websocket; resolve {opened, code, reason, status, error} when closed or after timeout */
function rawWs(url, timeout = 4000) {
  return new Promise((resolve) => {
    const r = { opened: false, code: null, reason: null, status: null, error: null, messages: 0 };
    const ws = new WS(url);
    const timer = setTimeout(() => { r.error = r.error || `still open after ${timeout} ms`; ws.terminate(); resolve(r); }, timeout);
    ws.on('open', () => { r.opened = true; });
    ws.on('message', () => { r.messages++; });
    ws.on('unexpected-response', (req, res) => { r.status = res.statusCode; let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => { r.body = b; }); });
    ws.on('error', (e) => { r.error = String(e.message || e); });
    ws.on('close', (code, reason) => { clearTimeout(timer); r.code = code; r.reason = reason.toString(); setTimeout(() => resolve(r), 20); });
  });
}
async function rawLp(path, query) {
  const r = await fetch(`${srv.subBase}${path}?${query}`, { signal: AbortSignal.timeout(6000) });
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
}
const q = (channelId, extra = '') => `CHANNEL_ID=${encodeURIComponent(channelId)}${extra}&revision=19`;

// ---- properly signed SDK clients, connected throughout ----
const G1 = await newClient(srv, { version: 4, transport: 'ws', name: 'good-ws' });
const G2 = await newClient(srv, { version: 4, transport: 'lp', name: 'good-lp' });
const goodUp = await t.test('properly signed clients (V4 websocket, V4 long polling) connect', async () => {
  await Promise.all([G1.start(), G2.start()]);
  await sleep(200);
}, { timeout: 12000 });
if (!goodUp) await t.done();

// background publisher: a tick to both good clients every 150 ms, alternating formats
let tick = 0;
let ticking = true;
const tickErrors = [];
const ticker = (async () => {
  while (ticking) {
    const i = tick++;
    const body = payload('test', 'tick', { i });
    try {
      if (i % 2) await publishText(srv, [G1.user.priv, G2.user.priv], body);
      else await publishProtobuf(srv, [{ privIds: [G1.user.priv, G2.user.priv], body }]);
    } catch (e) { tickErrors.push(`tick ${i}: ${e.message}`); }
    await sleep(150);
  }
})();

// ---- bad channel lists ----
const u = makeUser();
const sh = randHex();
const goodPriv4 = signedPrivate(u, 4, key, srv.algo);
const goodShared = signedShared(sh, key, srv.algo);
const BAD = [
  ['private signature wrong (V4 priv:pub form)', `${u.priv}:${u.pub}.${'0'.repeat(40)}/${goodShared}`, '&binaryMode=true'],
  ['private ok, shared signature wrong', `${goodPriv4}/${sh}.${sign(randHex(), key, srv.algo)}`, '&binaryMode=true'],
  ['unsigned private id', `${u.priv}/${goodShared}`, '&binaryMode=true'],
  ['signed with the wrong key', `${u.priv}:${u.pub}.${sign(`${u.priv}:${u.pub}`, 'not-the-key', srv.algo)}`, '&binaryMode=true'],
  ['signed with the wrong algorithm (sha256 vs sha1)', `${u.priv}:${u.pub}.${sign(`${u.priv}:${u.pub}`, key, 'sha256')}`, '&binaryMode=true'],
  ['public part swapped (signature of priv:pub, other pub)', `${u.priv}:${randHex()}.${sign(`${u.priv}:${u.pub}`, key, srv.algo)}`, '&binaryMode=true'],
  ['V3 text mode, private signature wrong', `${u.priv}.${sign(u.priv + 'x', key, srv.algo)}/${goodShared}`, ''],
  ['malformed id', 'not-a-channel.zz', ''],
];

for (const [name, chan, extra] of BAD) {
  await t.test(`websocket, ${name} → close 4010 "${REASON}"`, async () => {
    const r = await rawWs(`ws://127.0.0.1:${srv.subPort}/bitrix/subws/?${q(chan, extra)}`);
    if (r.code !== 4010 || r.reason !== REASON) fail(`got ${JSON.stringify(r)}`);
    if (r.messages) fail(`received ${r.messages} frames before the close`);
  }, { timeout: 6000 });
  await t.test(`long polling, ${name} → 400 "${REASON}"`, async () => {
    const r = await rawLp('/bitrix/sub/', q(chan, extra));
    if (r.status !== 400 || r.body !== REASON) fail(`got ${JSON.stringify(r)}`);
  }, { timeout: 8000 });
}

await t.test(`long polling on the websocket path /bitrix/subws/, bad signature → 400 "${REASON}"`, async () => {
  const r = await rawLp('/bitrix/subws/', q(`${u.priv}:${u.pub}.${'1'.repeat(40)}`, '&binaryMode=true'));
  if (r.status !== 400 || r.body !== REASON) fail(`got ${JSON.stringify(r)}`);
}, { timeout: 8000 });

await t.test('V5: JWT signed with the wrong key → rejected (websocket closed by the server, no messages)', async () => {
  const iat = Math.floor(Date.now() / 1000);
  const jwt = makeJwt({ iss: 'x', iat, exp: iat + 3600, sub: String(u.userId), chan: `${sh},${u.priv},${u.pub}` }, 'not-the-key');
  const r = await rawWs(`ws://127.0.0.1:${srv.subPort}/bitrix/subws/?token=${encodeURIComponent(jwt)}&jsonRpc=true&revision=19`);
  if (r.code === null || r.code === 1006 && !r.status) fail(`not rejected: ${JSON.stringify(r)}`);
  if (r.opened && r.code < 4000) fail(`closed with ${r.code}, expected a 40xx error code: ${JSON.stringify(r)}`);
  if (r.code !== 4010) diag(`note: V5 bad token rejected with ${JSON.stringify(r)}`);
}, { timeout: 6000 });

await t.test('V5: expired JWT → rejected', async () => {
  const iat = Math.floor(Date.now() / 1000) - 7200;
  const jwt = makeJwt({ iss: 'x', iat, exp: iat + 3600, sub: String(u.userId), chan: `${sh},${u.priv},${u.pub}` }, key);
  const r = await rawWs(`ws://127.0.0.1:${srv.subPort}/bitrix/subws/?token=${encodeURIComponent(jwt)}&jsonRpc=true&revision=19`);
  if (r.code === null || r.code === 1006 && !r.status) fail(`not rejected: ${JSON.stringify(r)}`);
  if (r.opened && r.code < 4000) fail(`closed with ${r.code}, expected a 40xx error code: ${JSON.stringify(r)}`);
}, { timeout: 6000 });

// ---- the SDK itself with a wrong signature ----
await t.test('SDK websocket client with a wrong private signature is closed with 4010 (and receives nothing)', async () => {
  const bu = makeUser();
  const c = await newClient(srv, { version: 4, transport: 'ws', user: bu, name: 'bad-ws',
    overrides: { privateId: `${bu.priv}:${bu.pub}.${'f'.repeat(40)}` } });
  try {
    await c.client.start(structuredClone(c.config)).catch(() => {});
    const end = Date.now() + 4000;
    while (!c.sockets().some((s) => s.closeCode !== null) && Date.now() < end) await sleep(20);
    const s = c.sockets()[0];
    if (!s || s.closeCode !== 4010 || s.closeReason !== REASON) fail(`socket: ${JSON.stringify(s)}`, c.debugText());
    await publishText(srv, [bu.priv], payload('test', 'leak', {}));
    await sleep(300);
    if (c.received.length) fail(`wrongly signed client received ${c.received.length} messages`);
  } finally { c.destroy(); }
}, { timeout: 8000 });

await t.test('SDK long-polling client with a wrong shared signature gets 400 and start() fails', async () => {
  const bu = makeUser();
  const c = await newClient(srv, { version: 4, transport: 'lp', user: bu, name: 'bad-lp',
    overrides: { sharedId: `${randHex()}.${'e'.repeat(40)}` } });
  try {
    let rejected = false;
    await Promise.race([c.client.start(structuredClone(c.config)).then(() => {}, () => { rejected = true; }), sleep(5000)]);
    const p = c.polls()[0];
    if (!p || p.status !== 400) fail(`poll: ${JSON.stringify(p)}`, c.debugText());
    if (!rejected) fail('start() did not reject');
  } finally { c.destroy(); }
}, { timeout: 8000 });

ticking = false;
await ticker;
const n = tick;
for (const G of [G1, G2]) {
  await t.test(`${G.name}: received all ${n} messages published during the bad-signature attempts, in order, none twice`, async () => {
    await G.waitCount(n, { timeout: 8000, filter: (m) => m.command === 'tick' });
    await sleep(400);
    const got = G.received.filter((m) => m.command === 'tick').map((m) => m.params.i);
    if (got.join() !== Array.from({ length: n }, (_, k) => k).join()) fail(`got ${got.join(',')}`);
    if (!G.connected()) fail('no longer connected', G.debugText());
    if (G.transport === 'ws' && G.sockets().length !== 1) fail(`websocket reconnected ${G.sockets().length - 1} times`, G.debugText());
  }, { timeout: 10000 });
}
t.ok(!tickErrors.length, 'every publish during the test answered 200', tickErrors.slice(0, 5).join('\n'));
G1.destroy(); G2.destroy();
t.ok(!srv.exited(), 'pullboxd still running', `exited: ${JSON.stringify(srv.exited())}\n${srv.log()}`);
await srv.stop();

// ---- signature-algorithm = sha256 ----
let srv2;
try {
  srv2 = await startServer({ algo: 'sha256', signatureKey: 'sha256-test-key-0123456789', longpollTimeout: 3 });
  t.ok(true, 'pullboxd with signature-algorithm = sha256 starts');
} catch (e) {
  t.ok(false, 'pullboxd with signature-algorithm = sha256 starts', e.message);
  await t.done();
}
await t.test('sha256 server: SDK client signed with sha256 connects and receives', async () => {
  const c = await newClient(srv2, { version: 4, transport: 'ws', name: 'sha256-ws' });
  try {
    await c.start();
    await sleep(200);
    await publishText(srv2, [c.user.priv], payload('test', 'hello256', { ok: true }));
    await c.waitCount(1, { timeout: 5000, filter: (m) => m.command === 'hello256' });
    if (!/\.[0-9a-f]{64}(\/|$)/.test(decodeURIComponent(c.sockets()[0].url))) fail('URL does not carry 64-hex signatures');
  } finally { c.destroy(); }
}, { timeout: 10000 });
await t.test('sha256 server: sha1-signed channel → websocket 4010, long polling 400', async () => {
  const uu = makeUser();
  const chan = `${uu.priv}:${uu.pub}.${sign(`${uu.priv}:${uu.pub}`, srv2.signatureKey, 'sha1')}`;
  const r = await rawWs(`ws://127.0.0.1:${srv2.subPort}/bitrix/subws/?${q(chan, '&binaryMode=true')}`);
  if (r.code !== 4010 || r.reason !== REASON) fail(`websocket: ${JSON.stringify(r)}`);
  const f = await fetch(`${srv2.subBase}/bitrix/sub/?${q(chan, '&binaryMode=true')}`, { signal: AbortSignal.timeout(6000) });
  const body = await f.text();
  if (f.status !== 400 || body !== REASON) fail(`long polling: ${f.status} ${body}`);
}, { timeout: 12000 });
await t.done();
