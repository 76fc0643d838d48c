// Delivery matrix: the real Bitrix JS client (b24jssdk 2.2.0) against pullboxd.
//   V3 (text framing), V4 (binaryMode=true, protobuf), V5 (jsonRpc=true, JWT)
//   x WebSocket and long polling.
// For each: messages published in the PHP formats valid for that version arrive
// in order, intact (module_id, command, params incl. unicode and a ~100 KiB string),
// none twice; messages to the shared channel and to multi-channel lists arrive once.
//
// Run: node tests/sdk/delivery.test.mjs   (PULLBOX_BIN=... to pick a binary)

import { deepStrictEqual } from 'node:assert/strict';
import { Tap, sleep, fail, diag } from './lib/tap.mjs';
import { startServer } from './lib/server.mjs';
import { makeUser, randHex, payload, publishAs, publishText, publishProtobuf, publishRpc } from './lib/bitrix.mjs';
import { newClient, urlParam } from './lib/client.mjs';

const t = new Tap('delivery');
const UNI = 'Привет, мир — 日本語 — emoji 🎉🚀 — "quotes" \\ back\\slash / tab\t — \u00e9\u0301 — <b>&amp;</b>';  // no U+2028: the SDK's frame regex (.*?) stops at line terminators
const BIG = 'x'.repeat(50 * 1024) + 'Ё'.repeat(25 * 1024); // 50 KiB ASCII + 50 KiB of 2-byte UTF-8 = 100 KiB
const FORMATS = { 3: ['text'], 4: ['text', 'protobuf'], 5: ['rpc-channel', 'rpc-user'] };
const PER_FORMAT = 5;

let srv;
try {
  srv = await startServer({ longpollTimeout: 2 });
  t.ok(true, `pullboxd starts and answers /health (pid ${srv.pid})`);
} catch (e) {
  t.ok(false, 'pullboxd starts and answers /health', e.message);
  await t.done();
}

function describeMsgs(list) { return list.map((m) => `${m.command}#${m.params && m.params.seq}`).join(','); }

for (const version of [3, 4, 5]) {
  for (const transport of ['ws', 'lp']) {
    const tag = `V${version} ${transport === 'ws' ? 'websocket' : 'long-polling'}`;
    const c = await newClient(srv, { version, transport });
    const { user, shared } = c;

    const connected = await t.test(`${tag}: client connects with the expected URL`, async () => {
      await c.start();
      let url;
      if (transport === 'ws') {
        const s = c.sockets().find((r) => r.opened);
        if (!s) fail('no opened websocket', c.debugText());
        if (c.polls().length) fail('long polling used although websocket is enabled', c.debugText());
        url = s.url;
      } else {
        if (c.sockets().length) fail('websocket used although websocket_enabled=false', c.debugText());
        url = c.polls()[0].url;
      }
      const want = { 3: [null, null], 4: ['true', null], 5: [null, 'true'] }[version];
      if (urlParam(url, 'binaryMode') !== want[0] || urlParam(url, 'jsonRpc') !== want[1]) fail(`unexpected URL ${url}`);
      if (version >= 5 && !urlParam(url, 'token')) fail(`V5 URL without token: ${url}`);
    }, { timeout: 12000 });
    if (!connected) { c.destroy(); continue; }
    await sleep(300);

    // --- the main sequence, formats interleaved ---
    const formats = FORMATS[version];
    const sent = [];
    const total = PER_FORMAT * formats.length;
    const published = await t.test(`${tag}: publish ${total} messages (${formats.join(', ')}) → HTTP 200`, async () => {
      for (let seq = 0; seq < total; seq++) {
        const fmt = formats[seq % formats.length];
        const params = { seq, fmt, uni: UNI, nested: { a: [1, 2, { b: null }], t: true, f: 1.5, neg: -7 }, empty: {} };
        if (seq === 3) params.big = BIG;
        const body = payload('test', 'seq', params);
        sent.push({ fmt, params });
        await publishAs(fmt, srv, { privIds: [user.priv], userIds: [user.userId], body });
      }
    }, { timeout: 15000 });

    if (published) {
      const isSeq = (m) => m.command === 'seq' && m.type === 'server';
      for (const fmt of formats) {
        await t.test(`${tag}: every ${fmt} message delivered`, async () => {
          const want = sent.filter((s) => s.fmt === fmt).length;
          await c.waitCount(want, { timeout: 8000, filter: (m) => isSeq(m) && m.params.fmt === fmt });
        }, { timeout: 10000 });
      }
      await sleep(600); // let duplicates (if any) arrive
      const got = c.received.filter(isSeq);
      t.ok(JSON.stringify(got.map((m) => m.params.seq)) === JSON.stringify(sent.map((s) => s.params.seq)),
        `${tag}: delivered in publish order, none twice, none missing`,
        `sent ${sent.map((s) => s.params.seq).join(',')}\ngot  ${got.map((m) => m.params.seq).join(',')}\n${c.debugText()}`);
      const dupRaw = c.rawMids.filter((m, i) => c.rawMids.indexOf(m) !== i);
      t.ok(dupRaw.length === 0 && c.rawMids.length >= got.length, `${tag}: server sent each message id once (${c.rawMids.length} ids)`,
        `duplicate mids from the server: ${dupRaw.join(',')}; all: ${c.rawMids.join(',')}`);
      await t.test(`${tag}: payload intact (module_id, command, params: unicode, nesting, 100 KiB string)`, async () => {
        for (const m of got) {
          const s = sent.find((x) => x.params.seq === m.params.seq);
          if (m.moduleId !== 'test' || m.command !== 'seq') fail(`module/command ${m.moduleId}/${m.command}`);
          try { deepStrictEqual(m.params, s.params); } catch (e) {
            fail(`params of seq ${s.params.seq} (${s.fmt}) differ`, String(e.message).slice(0, 1500));
          }
          if (m.extra.revision_web !== 19 || m.extra.server_name !== 'pullbox.test') fail(`extra not passed through: ${JSON.stringify(m.extra).slice(0, 300)}`);
        }
        if (!got.some((m) => m.params.big === BIG)) fail('the 100 KiB message is missing');
      });
      if (version >= 4) {
        t.ok(got.length > 0 && got.every((m) => m.extra.sender && m.extra.sender.type === 2),
          `${tag}: extra.sender.type == 2 (backend) on server-published messages`,
          `senders: ${JSON.stringify(got.map((m) => m.extra.sender))}`);
      }
      const mids = c.rawMids.filter((m) => m !== '<unparsable frame>');
      if (version <= 4) {
        t.ok(mids.length > 0 && mids.every((m) => /^[0-9a-f]{2,}$/.test(m)) && mids.every((m, i) => i === 0 || m > mids[i - 1]),
          `${tag}: message ids are increasing (${mids.slice(-2).join(' < ')})`, `mids: ${mids.join(',')}`);
      }
    }

    // --- shared channel ---
    await t.test(`${tag}: messages to the shared channel arrive`, async () => {
      const shFormats = version === 5 ? ['rpc-channel'] : formats;
      for (const [i, fmt] of shFormats.entries()) {
        await publishAs(fmt, srv, { privIds: [shared], body: payload('test', 'shared', { i, fmt, uni: UNI }) });
      }
      const got = await c.waitCount(shFormats.length, { timeout: 6000, filter: (m) => m.command === 'shared' });
      if (got.map((m) => m.params.fmt).join() !== shFormats.join()) fail(`got ${describeMsgs(got)}`);
      if (got.some((m) => m.params.uni !== UNI)) fail('unicode mangled');
    }, { timeout: 9000 });

    // --- one publish addressed to several channels / users (incl. unknown ones) ---
    await t.test(`${tag}: one publish to several channels arrives once`, async () => {
      const other = randHex();
      const body = payload('test', 'multi', { n: 1 });
      if (version <= 4) await publishText(srv, [other, user.priv, randHex()], body);
      if (version === 4) await publishProtobuf(srv, [{ privIds: [other, user.priv], body: payload('test', 'multi', { n: 2 }) }]);
      if (version === 5) {
        await publishRpc(srv, [{ channelList: [other, user.priv], body }]);
        await publishRpc(srv, [{ userList: [user.userId + 100000, user.userId], body: payload('test', 'multi', { n: 2 }) }]);
      }
      const want = version === 3 ? 1 : 2;
      await c.waitCount(want, { timeout: 6000, filter: (m) => m.command === 'multi' });
      await sleep(400);
      const got = c.received.filter((m) => m.command === 'multi');
      if (got.length !== want) fail(`expected ${want}, got ${got.length}: ${JSON.stringify(got.map((m) => m.params))}`);
    }, { timeout: 9000 });

    c.destroy();
  }
}

// V5 batch: PHP sends several publish requests in one JSON-RPC array
await t.test('V5 websocket: one JSON-RPC batch with several publish requests → all delivered in order', async () => {
  const c = await newClient(srv, { version: 5, transport: 'ws' });
  await c.start();
  await sleep(200);
  const reqs = [];
  for (let i = 0; i < 5; i++) reqs.push(i % 2 ? { userList: [c.user.userId], body: payload('test', 'batch', { i }) }
    : { channelList: [c.user.priv], body: payload('test', 'batch', { i }) });
  await publishRpc(srv, reqs);
  const got = await c.waitCount(5, { timeout: 6000, filter: (m) => m.command === 'batch' });
  if (got.map((m) => m.params.i).join() !== '0,1,2,3,4') fail(`order ${got.map((m) => m.params.i).join()}`);
  c.destroy();
}, { timeout: 12000 });

// V4 protobuf batch: several messages in one RequestBatch
await t.test('V4 websocket: one protobuf RequestBatch with several messages → all delivered in order', async () => {
  const c = await newClient(srv, { version: 4, transport: 'ws' });
  await c.start();
  await sleep(200);
  await publishProtobuf(srv, [0, 1, 2, 3, 4].map((i) => ({ privIds: [c.user.priv], body: payload('test', 'batch', { i }) })));
  const got = await c.waitCount(5, { timeout: 6000, filter: (m) => m.command === 'batch' });
  if (got.map((m) => m.params.i).join() !== '0,1,2,3,4') fail(`order ${got.map((m) => m.params.i).join()}`);
  c.destroy();
}, { timeout: 12000 });

const ex = srv.exited();
t.ok(!ex, 'pullboxd still running after the matrix', `exited: ${JSON.stringify(ex)}\n${srv.log()}`);
const st = await srv.stop();
t.ok(st && (st.code === 0 || st.sig === 'SIGTERM'), 'pullboxd exits cleanly on SIGTERM', `exit: ${JSON.stringify(st)}\n${srv.log(2000)}`);
await t.done();
