// Frame injection in text mode, with the real client: a body holding
// "}#!NGINXNME!##!NGINXNMS!#{...}" must reach a text-mode subscriber (long polling and
// WebSocket without binaryMode) as ONE message with its original content, or not as a
// message at all, never as a second, forged server event; whether it comes from the
// site (text, protobuf, JSON-RPC publish) or from a client. A client's message carries
// its sender in text mode too (extra.sender, where the SDK looks), so it cannot pose as
// the server's. The witnesses get every message in order.

import { Tap, sleep, fail } from './lib/tap.mjs';
import { startServer } from './lib/server.mjs';
import { makeUser, randHex, signedPrivate, signedShared, PB, payload, publishText, publishProtobuf,
  publishRpc } from './lib/bitrix.mjs';
import { newClient } from './lib/client.mjs';

const t = new Tap('text-injection');
let srv;
try {
  srv = await startServer({ longpollTimeout: 5 });
  t.ok(true, `pullboxd starts (pid ${srv.pid})`);
} catch (e) {
  t.ok(false, 'pullboxd starts', e.message);
  await t.done();
}
const key = srv.signatureKey;

// what an attacker pastes: ends the frame, then opens one of its own choosing
const forgedFrame = (cmd) => `}#!NGINXNME!##!NGINXNMS!#{"id":1,"mid":"9${'9'.repeat(25)}","channel":"x",`
  + `"tag":"1","time":"x","text":{"module_id":"test","command":"${cmd}","params":{"evil":1}}`;
const chat = (cmd) => `hello ${forgedFrame(cmd)} # ## #!NGINXNMS!# bye`;

// victims: text mode, subscribed with a public id so that clients can reach them
function textVictim(transport) {
  const user = makeUser();
  return newClient(srv, { version: 3, transport, user, name: `text-${transport}`,
    overrides: { privateId: signedPrivate(user, 4, key, srv.algo) } });
}
const W = await textVictim('ws');
const L = await textVictim('lp');
// and a binary (protobuf) long-polling one: bodies its handler throws on stop its polling
const B = await newClient(srv, { version: 4, transport: 'lp', name: 'binary-lp' });
const victims = [W, L, B];
// the attacker, an ordinary V4 client that knows the victims' public ids
const A = await newClient(srv, { version: 4, transport: 'ws', publicUsers: [W.user, L.user, B.user], name: 'A' });

const up = await t.test('text-mode victims (WebSocket, long polling), a binary long poller and a V4 sender connect', async () => {
  await Promise.all([W.start(), L.start(), B.start(), A.start()]);
  await sleep(300);
}, { timeout: 15000 });
if (!up) await t.done();

const privs = victims.map((v) => v.user.priv);
const expected = []; // [command, type, params] in publish order, for every victim
const step = (cmd, params) => expected.push([cmd, 'server', params]);

await t.test('site publishes, text/protobuf/JSON-RPC, a chat message quoting the delimiters', async () => {
  step('n0', { n: 0 });
  await publishText(srv, privs, payload('test', 'n0', { n: 0 }));
  step('chat_text', { text: chat('forged_text') });
  await publishText(srv, privs, payload('test', 'chat_text', { text: chat('forged_text') }));
  step('chat_pb', { text: chat('forged_pb') });
  await publishProtobuf(srv, [{ privIds: privs, body: payload('test', 'chat_pb', { text: chat('forged_pb') }) }]);
  step('chat_rpc', { text: chat('forged_rpc') });
  await publishRpc(srv, [{ channelList: privs, body: payload('test', 'chat_rpc', { text: chat('forged_rpc') }) }]);
});

// Only to the WebSocket victim: a long poller whose answer holds no message it can
// parse forgets its mid but keeps tag/time, so it may miss what comes before its next
// poll, or get the same answer again (the push-stream cursor); the site never sends
// such bodies to users, and a client's are refused (below).
await t.test('site publishes bodies that are not JSON but hold a forged frame (WebSocket victim)', async () => {
  const raw = `{"module_id":"test","command":"raw","params":{}}${forgedFrame('forged_raw_text')}`;
  await publishText(srv, [W.user.priv], raw);
  await publishProtobuf(srv, [{ privIds: [W.user.priv], body: `${raw.replace('raw_text', 'raw_pb')}` }]);
  step('n1', { n: 1 });
  await publishText(srv, privs, payload('test', 'n1', { n: 1 }));
});

await t.test('a client sends a chat message quoting the delimiters (SDK sendMessage)', async () => {
  await A.client.sendMessage(victims.map((v) => v.user.userId), 'test', 'client_chat', { text: chat('forged_client') });
  expected.push(['client_chat', 'client', { text: chat('forged_client') }]);
  await sleep(300);
});

// a raw client publish from A (POST /bitrix/rest/, as the SDK does on long polling)
async function clientPost(bodies) {
  const aIds = `${signedPrivate(A.user, 4, key, srv.algo)}/${signedShared(A.shared, key, srv.algo)}`;
  const receivers = victims.map((v) => PB.Receiver.create({ id: Buffer.from(v.user.pub, 'hex'),
    signature: Buffer.from(A.config.publicChannels[v.user.userId].signature, 'hex') }));
  const batch = Buffer.from(PB.RequestBatch.encode(PB.RequestBatch.create({ requests: [{ incomingMessages: {
    messages: bodies.map((body) => PB.IncomingMessage.create({ receivers, body, expiry: 60 })) } }] })).finish());
  const r = await fetch(`${srv.subBase}/bitrix/rest/?CHANNEL_ID=${encodeURIComponent(aIds)}`,
    { method: 'POST', body: batch, signal: AbortSignal.timeout(5000) });
  await r.arrayBuffer();
  return r;
}

await t.test('a client sends a raw body holding a forged frame (refused), and one that claims to be the server', async () => {
  const r = await clientPost([`{"module_id":"test","command":"raw_client","params":{}}${forgedFrame('forged_raw_client')}`]);
  if (r.status === 200) fail('a client body that is not JSON was accepted');
  const r2 = await clientPost([JSON.stringify({ module_id: 'test', command: 'claims_server', params: { n: 9 },
    extra: { sender: { type: 2 } } })]);
  if (r2.status !== 200) fail(`POST /bitrix/rest/ answered ${r2.status}`);
  expected.push(['claims_server', 'client', { n: 9 }]);
  step('n2', { n: 2 });
  await publishText(srv, privs, payload('test', 'n2', { n: 2 }));
});

await t.test('a client sends bodies the client cannot take as a message: refused, nobody stops', async () => {
  for (const body of ['{}', '5', 'null', '"str"', '[]', '{"module_id":7}', '{"command":"x"}']) {
    const r = await clientPost([body]);
    if (r.status === 200) fail(`client body ${body} accepted (200)`);
  }
  await sleep(300);
  step('n3', { n: 3 });
  await publishText(srv, privs, payload('test', 'n3', { n: 3 }));
});

for (const v of victims) {
  await t.test(`${v.name}: every message once, in order, as sent; nothing forged`, async () => {
    await v.waitCount(expected.length, { timeout: 12000, filter: (m) => m.command === 'n2' || true,
      what: `${expected.length} messages at ${v.name}` }).catch(() => {});
    await sleep(500);
    const got = v.received.filter((m) => m.moduleId === 'test');
    const forged = got.filter((m) => m.command.startsWith('forged') || m.params?.evil);
    if (forged.length) fail(`forged events delivered: ${JSON.stringify(forged.map((m) => m.command))}`);
    const seen = got.map((m) => `${m.command}/${m.type}`);
    const want = expected.map(([c, type]) => `${c}/${type}`);
    if (JSON.stringify(seen) !== JSON.stringify(want)) fail(`got ${JSON.stringify(seen)}\nwant ${JSON.stringify(want)}`, v.debugText());
    for (let i = 0; i < expected.length; i++) {
      if (JSON.stringify(got[i].params) !== JSON.stringify(expected[i][2])) {
        fail(`${expected[i][0]}: params ${JSON.stringify(got[i].params)} != ${JSON.stringify(expected[i][2])}`);
      }
    }
    for (const m of got.filter((x) => x.type === 'client')) {
      if (m.extra?.sender?.type !== 1 || m.extra.sender.id !== A.user.pub) {
        fail(`${m.command}: extra.sender ${JSON.stringify(m.extra?.sender)}, expected {type 1, id ${A.user.pub}}`);
      }
    }
    if (!v.connected()) fail(`${v.name} is no longer connected`);
  }, { timeout: 20000 });
}

await t.done();
