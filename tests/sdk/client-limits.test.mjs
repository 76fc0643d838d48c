// The limits of untrusted publishes as the real SDK meets them (V4): a message over
// client-max-message-size or beyond the connection's bucket is refused whole.
//   - over its WebSocket: the server closes with 1009 / 1008 and a reason naming the
//     limit; the SDK reconnects (0.5 s before its first attempt) and publishes again;
//   - over long polling: the POST /bitrix/rest/ answers 413 (the SDK ignores the answer).
// Receiver B gets exactly what was accepted, and subscriber W, connected throughout,
// gets every site message in order.

import { Tap, sleep, fail } from './lib/tap.mjs';
import { startServer } from './lib/server.mjs';
import { makeUser, payload, publishText } from './lib/bitrix.mjs';
import { newClient } from './lib/client.mjs';

const MAX = 2048, BURST = 3;
const t = new Tap('client-limits');
let srv;
try {
  srv = await startServer({ longpollTimeout: 2, extra: {
    'client-max-message-size': MAX, 'client-publish-rate': 1, 'client-publish-burst': BURST } });
  t.ok(true, `pullboxd starts (pid ${srv.pid})`);
} catch (e) {
  t.ok(false, 'pullboxd starts', e.message);
  await t.done();
}

const uB = makeUser(), uW = makeUser();
const B = await newClient(srv, { version: 4, transport: 'ws', user: uB, name: 'B-ws' });
const W = await newClient(srv, { version: 4, transport: 'ws', user: uW, name: 'W-ws' });
const Aws = await newClient(srv, { version: 4, transport: 'ws', publicUsers: [uB], name: 'A-ws' });
const Alp = await newClient(srv, { version: 4, transport: 'lp', publicUsers: [uB], name: 'A-lp' });
const up = await t.test('B, W and the senders A-ws, A-lp connect', async () => {
  await Promise.all([B.start(), W.start(), Aws.start(), Alp.start()]);
  await sleep(300);
}, { timeout: 15000 });
if (!up) await t.done();

let witnessN = 0;
async function witness() {
  witnessN++;
  await publishText(srv, [uW.priv], payload('test', 'w', { n: witnessN }));
}
const got = (c, cmd) => c.received.filter((m) => m.command === cmd).map((m) => m.params.n);

await t.test('A (websocket) sends a message over client-max-message-size: close 1009 naming it, '
  + 'B gets nothing, A reconnects', async () => {
  await witness();
  const before = Aws.sockets().length;
  await Aws.client.sendMessage([uB.userId], 'test', 'big', { n: 1, pad: 'x'.repeat(MAX) });
  await Aws.waitFor(() => Aws.sockets().length > before && Aws.sockets()[before - 1].closeCode !== null,
    { timeout: 5000, what: 'the close of A\'s socket' });
  const s = Aws.sockets()[before - 1];
  if (s.closeCode !== 1009 || !s.closeReason.includes('client-max-message-size'))
    fail(`close ${s.closeCode} ${JSON.stringify(s.closeReason)}`);
  await Aws.waitFor(() => Aws.connected() && Aws.sockets().length > before, { timeout: 8000, what: 'A reconnected' });
  await witness();
  await sleep(300);
  if (got(B, 'big').length) fail('the refused message was delivered');
}, { timeout: 20000 });

await t.test(`A (websocket) publishes ${BURST + 1} at once: B gets the first ${BURST}, `
  + 'A is closed with 1008 naming client-publish-rate', async () => {
  const before = Aws.sockets().length;
  for (let n = 1; n <= BURST + 1; n++) await Aws.client.sendMessage([uB.userId], 'test', 'burst', { n });
  await Aws.waitFor(() => Aws.sockets()[before - 1].closeCode !== null, { timeout: 5000, what: 'the close' });
  const s = Aws.sockets()[before - 1];
  if (s.closeCode !== 1008 || !s.closeReason.includes('client-publish-rate'))
    fail(`close ${s.closeCode} ${JSON.stringify(s.closeReason)}`);
  await B.waitCount(BURST, { timeout: 5000, filter: (m) => m.command === 'burst', what: 'the burst at B' });
  await witness();
  await sleep(300);
  const ns = got(B, 'burst');
  if (JSON.stringify(ns) !== JSON.stringify([1, 2, 3])) fail(`B got ${JSON.stringify(ns)}`);
}, { timeout: 15000 });

await t.test('A (long polling) sends a message over client-max-message-size: POST answered 413, '
  + 'B gets nothing', async () => {
  await Alp.client.sendMessage([uB.userId], 'test', 'big_lp', { n: 1, pad: 'y'.repeat(MAX) });
  await Alp.waitFor(() => Alp.posts().some((p) => p.status !== null), { timeout: 5000, what: 'the POST answer' });
  const post = Alp.posts().at(-1);
  if (post.status !== 413) fail(`POST /bitrix/rest/ answered ${post.status}`);
  await witness();
  await sleep(500);
  if (got(B, 'big_lp').length) fail('the refused message was delivered');
}, { timeout: 10000 });

await t.test('after the bucket refilled, A (websocket, reconnected) publishes to B again', async () => {
  await Aws.waitFor(() => Aws.connected(), { timeout: 8000, what: 'A connected' });
  await sleep(1200);
  await Aws.client.sendMessage([uB.userId], 'test', 'again', { n: 9 });
  await B.waitCount(1, { timeout: 5000, filter: (m) => m.command === 'again', what: 'again at B' });
  await witness();
});

await t.test('W, connected throughout, got every site message in order', async () => {
  await W.waitCount(witnessN, { timeout: 5000, filter: (m) => m.command === 'w', what: 'the witness messages' });
  const ns = got(W, 'w');
  const want = Array.from({ length: witnessN }, (_, i) => i + 1);
  if (JSON.stringify(ns) !== JSON.stringify(want)) fail(`W got ${JSON.stringify(ns)}, want ${JSON.stringify(want)}`);
  if (W.sockets().length !== 1) fail(`W reconnected: ${W.sockets().length} sockets`);
});

for (const c of [B, W, Aws, Alp]) c.destroy();
const ex = srv.exited();
t.ok(!ex, 'pullboxd still running', `exited: ${JSON.stringify(ex)}\n${srv.log()}`);
await t.done();
