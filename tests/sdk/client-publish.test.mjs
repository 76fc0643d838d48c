// Untrusted client publishing (V4, PROTOCOL §3 "Trusted vs untrusted", §4.3, §6):
// SDK client A sends to user B with sendMessage(users) / sendMessageToChannels(public ids):
//   - over its WebSocket (binary RequestBatch frame),
//   - over long polling (POST <publish>/bitrix/rest/?CHANNEL_ID=<A's signed ids>).
// B must receive it as a *client* event: extra.sender.type == 1, extra.sender.id == A's public id.
// Negative: wrong public signature, private receivers, no CHANNEL_ID → nothing delivered.

import { Tap, sleep, fail } from './lib/tap.mjs';
import { startServer } from './lib/server.mjs';
import { makeUser, sign, PB, signedPrivate, signedShared, randHex } from './lib/bitrix.mjs';
import { newClient } from './lib/client.mjs';

const t = new Tap('client-publish');
let srv;
try {
  srv = await startServer({ longpollTimeout: 2 });
  t.ok(true, `pullboxd starts (pid ${srv.pid})`);
} catch (e) {
  t.ok(false, 'pullboxd starts', e.message);
  await t.done();
}
const key = srv.signatureKey;
const UNI = 'клиент → клиент ✓ 🎯 "q" \\';
const pubRef = (u) => `${u.pub}.${sign(`public:${u.pub}`, key, srv.algo)}`;

const clientMsgs = (c, cmd) => c.received.filter((m) => m.command === cmd);
async function expectClientMsg(B, A, cmd, params, what) {
  await B.waitCount(1, { timeout: 5000, filter: (m) => m.command === cmd, what: `${what}: '${cmd}' at ${B.name}` });
  await sleep(300);
  const got = clientMsgs(B, cmd);
  if (got.length !== 1) fail(`${what}: expected 1 '${cmd}', got ${got.length}`);
  const m = got[0];
  if (m.type !== 'client') fail(`${what}: delivered as subscription type '${m.type}', expected 'client' (extra=${JSON.stringify(m.extra)})`);
  if (!m.extra.sender || m.extra.sender.type !== 1) fail(`${what}: extra.sender=${JSON.stringify(m.extra.sender)}, expected type 1`);
  if (m.extra.sender.id !== A.user.pub) fail(`${what}: extra.sender.id=${m.extra.sender.id}, expected A's public id ${A.user.pub}`);
  if (JSON.stringify(m.params) !== JSON.stringify(params)) fail(`${what}: params ${JSON.stringify(m.params)} != ${JSON.stringify(params)}`);
  if (m.moduleId !== 'test') fail(`${what}: module ${m.moduleId}`);
}
async function expectNothing(B, cmd, what, ms = 1500) {
  await sleep(ms);
  if (clientMsgs(B, cmd).length) fail(`${what}: '${cmd}' was delivered: ${JSON.stringify(clientMsgs(B, cmd))}`);
}

// users
const uB = makeUser(), uC = makeUser();
const B = await newClient(srv, { version: 4, transport: 'ws', user: uB, name: 'B-ws' });
const C = await newClient(srv, { version: 4, transport: 'lp', user: uC, name: 'C-lp' });
// A knows B through config.publicChannels, C only through REST pull.channel.public.list
const Aws = await newClient(srv, { version: 4, transport: 'ws', publicUsers: [uB], users: { [uC.userId]: uC }, name: 'A-ws' });
const Alp = await newClient(srv, { version: 4, transport: 'lp', publicUsers: [uB], users: { [uC.userId]: uC }, name: 'A-lp' });

const up = await t.test('receivers B (websocket), C (long polling) and senders A-ws, A-lp connect', async () => {
  await Promise.all([B.start(), C.start(), Aws.start(), Alp.start()]);
  await sleep(300);
}, { timeout: 15000 });
if (!up) await t.done();

await t.test('A (websocket frame) sendMessage([B]) → B gets it as client event, sender = A', async () => {
  const params = { n: 1, uni: UNI };
  await Aws.client.sendMessage([uB.userId], 'test', 'ws_user', params);
  await expectClientMsg(B, Aws, 'ws_user', params, 'ws sendMessage');
});

await t.test('A (websocket frame) sendMessage([C]), C resolved via REST pull.channel.public.list → C (long polling) gets it', async () => {
  const params = { n: 2, uni: UNI };
  await Aws.client.sendMessage([uC.userId], 'test', 'ws_rest_user', params);
  await expectClientMsg(C, Aws, 'ws_rest_user', params, 'ws sendMessage via REST');
  if (!Aws.b24.calls.some((c) => c.method === 'pull.channel.public.list')) fail('SDK did not ask REST for the public id');
}, { timeout: 10000 });

await t.test('A (websocket frame) sendMessageToChannels([B public id]) → B gets it', async () => {
  const params = { n: 3, list: [1, 'two', { three: 3 }] };
  await Aws.client.sendMessageToChannels([pubRef(uB)], 'test', 'ws_chan', params);
  await expectClientMsg(B, Aws, 'ws_chan', params, 'ws sendMessageToChannels');
});

await t.test('A (websocket frame) one sendMessage to B and C → both get it once', async () => {
  const params = { n: 4 };
  await Aws.client.sendMessage([uB.userId, uC.userId], 'test', 'ws_both', params);
  await Promise.all([expectClientMsg(B, Aws, 'ws_both', params, 'B'), expectClientMsg(C, Aws, 'ws_both', params, 'C')]);
}, { timeout: 10000 });

await t.test('A (long polling: POST /bitrix/rest/) sendMessage([B]) → B gets it, sender = A', async () => {
  const params = { n: 5, uni: UNI };
  await Alp.client.sendMessage([uB.userId], 'test', 'lp_user', params);
  await expectClientMsg(B, Alp, 'lp_user', params, 'lp sendMessage');
  const post = Alp.posts().at(-1);
  if (!post || !post.url.includes('/bitrix/rest/')) fail(`no POST to /bitrix/rest/ recorded: ${JSON.stringify(post)}`);
  if (post.status !== 200) fail(`POST /bitrix/rest/ answered ${post.status}`);
});

await t.test('A (long polling: POST /bitrix/rest/) sendMessageToChannels([C public id]) → C (long polling) gets it', async () => {
  const params = { n: 6 };
  await Alp.client.sendMessageToChannels([pubRef(uC)], 'test', 'lp_chan', params);
  await expectClientMsg(C, Alp, 'lp_chan', params, 'lp sendMessageToChannels');
}, { timeout: 10000 });

// --- negative cases, with throw-away senders so a server that closes them does not matter ---
await t.test('wrong public-channel signature (websocket frame) → not delivered', async () => {
  const X = await newClient(srv, { version: 4, transport: 'ws', name: 'X-badsig' });
  await X.start();
  await X.client.sendMessageToChannels([`${uB.pub}.${'0'.repeat(40)}`], 'test', 'bad_sig_ws', { n: 1 });
  await expectNothing(B, 'bad_sig_ws', 'bad signature');
  X.destroy();
});

await t.test('wrong public-channel signature (POST /bitrix/rest/) → not delivered', async () => {
  const X = await newClient(srv, { version: 4, transport: 'lp', name: 'X-badsig-lp' });
  await X.start();
  await X.client.sendMessageToChannels([`${uB.pub}.${sign(`public:${randHex()}`, key, srv.algo)}`], 'test', 'bad_sig_lp', { n: 1 });
  await expectNothing(B, 'bad_sig_lp', 'bad signature');
  X.destroy();
}, { timeout: 12000 });

function rawBatch(receivers, cmd) {
  return Buffer.from(PB.RequestBatch.encode(PB.RequestBatch.create({ requests: [{ incomingMessages: { messages: [
    PB.IncomingMessage.create({ receivers, body: JSON.stringify({ module_id: 'test', command: cmd, params: {} }), expiry: 0 })] } }] })).finish());
}
const uX = makeUser();
const xChannelId = `${signedPrivate(uX, 4, key, srv.algo)}/${signedShared(randHex(), key, srv.algo)}`;

await t.test('untrusted POST /bitrix/rest/ to a *private* channel id → not delivered', async () => {
  const body = rawBatch([PB.Receiver.create({ id: Buffer.from(uB.priv, 'hex'), isPrivate: true })], 'priv_from_client');
  const r = await fetch(`${srv.subBase}/bitrix/rest/?CHANNEL_ID=${encodeURIComponent(xChannelId)}`, { method: 'POST', body, signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  await expectNothing(B, 'priv_from_client', 'private receiver from client');
});

await t.test('untrusted POST /bitrix/rest/ without CHANNEL_ID (no sender identity) → not delivered', async () => {
  const sig = Buffer.from(sign(`public:${uB.pub}`, key, srv.algo), 'hex');
  const body = rawBatch([PB.Receiver.create({ id: Buffer.from(uB.pub, 'hex'), signature: sig })], 'anon_client');
  const r = await fetch(`${srv.subBase}/bitrix/rest/`, { method: 'POST', body, signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  await expectNothing(B, 'anon_client', 'no CHANNEL_ID');
});

await t.test('client publish is not accepted as trusted: POST /bitrix/rest/ with bad CHANNEL_ID signature → not delivered', async () => {
  const sig = Buffer.from(sign(`public:${uB.pub}`, key, srv.algo), 'hex');
  const body = rawBatch([PB.Receiver.create({ id: Buffer.from(uB.pub, 'hex'), signature: sig })], 'badchan_client');
  const bad = `${uX.priv}:${uX.pub}.${'ab'.repeat(20)}`;
  const r = await fetch(`${srv.subBase}/bitrix/rest/?CHANNEL_ID=${encodeURIComponent(bad)}`, { method: 'POST', body, signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  if (r.status === 200) fail(`expected an error status for a wrongly signed CHANNEL_ID, got 200`);
  await expectNothing(B, 'badchan_client', 'bad CHANNEL_ID');
});

await t.test('after all that, A → B over websocket still works', async () => {
  const params = { n: 7 };
  await Aws.client.sendMessage([uB.userId], 'test', 'ws_final', params);
  await expectClientMsg(B, Aws, 'ws_final', params, 'final');
});

for (const c of [B, C, Aws, Alp]) c.destroy();
const ex = srv.exited();
t.ok(!ex, 'pullboxd still running', `exited: ${JSON.stringify(ex)}\n${srv.log()}`);
await t.done();
