#!/usr/bin/env node
/* Cross-checks the server's hand-written protobuf codec (server/src/pb.c, driven through
 * tests/sdk/tools/pbtool.c) against the protobufjs code that the Bitrix24 JS SDK really
 * runs: RequestBatches built by the SDK's own model and by PullClient.encodeMessageBatch
 * are decoded by pbtool; ResponseBatches written by pbtool are decoded by the SDK's
 * ResponseBatch.decode and by PullClient.extractProtobufMessages.
 *
 *   node tests/sdk/protobuf-codec.test.mjs      (or: tests/run sdk -k protobuf)
 *
 * pbtool is built with cc into $O/test/ (O defaults to <repo>/out). Output is TAP. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const outDir = path.join(process.env.O || path.join(root, 'out'), 'test');
const pbtool = path.join(outDir, 'pbtool');
const sdkDir = path.join(here, 'node_modules', '@bitrix24', 'b24jssdk', 'dist', 'esm', 'pullClient');

/* ---- TAP ---- */

let count = 0;
let failed = 0;

function ok(cond, name, diag) {
  count++;
  console.log(`${cond ? 'ok' : 'not ok'} ${count} - ${name}`);
  if (!cond) {
    failed++;
    if (diag) for (const line of String(diag).split('\n').slice(0, 40)) console.log(`#   ${line}`);
  }
  return cond;
}

function same(actual, expected, name) {
  try {
    assert.deepStrictEqual(actual, expected);
    return ok(true, name);
  } catch (e) {
    return ok(false, name, e.message);
  }
}

function finish() {
  console.log(`1..${count}`);
  process.exit(failed ? 1 : 0);
}

/* ---- setup: the SDK (by file path: its exports map blocks deep imports) and pbtool ---- */

if (!fs.existsSync(path.join(sdkDir, 'protobuf', 'model.mjs'))) {
  ok(false, 'SDK installed', `missing ${sdkDir}; run: cd tests/sdk && npm install`);
  finish();
}
const { $root } = await import(pathToFileURL(path.join(sdkDir, 'protobuf', 'model.mjs')).href);
const { PullClient } = await import(pathToFileURL(path.join(sdkDir, 'client.mjs')).href);
const { RequestBatch, ResponseBatch } = $root;

fs.mkdirSync(outDir, { recursive: true });
{
  const cc = process.env.CC || 'cc';
  const args = ['-std=c11', '-g', '-O1', '-Wall', '-Wextra', '-Wshadow', '-Wstrict-prototypes',
    '-Wformat=2', '-Werror', '-fsanitize=address,undefined', '-fno-omit-frame-pointer',
    '-fno-sanitize-recover=all', '-I', path.join(root, 'server', 'src'), '-o', pbtool,
    path.join(here, 'tools', 'pbtool.c'),
    ...['pb.c', 'buf.c', 'util.c'].map((f) => path.join(root, 'server', 'src', f))];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (!ok(r.status === 0, 'build pbtool', `${cc} ${args.join(' ')}\n${r.stdout}${r.stderr}`)) finish();
}

function run(args, input) {
  const r = spawnSync(pbtool, args, { input, maxBuffer: 512 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr ? r.stderr.toString() : '' };
}

/* ---- helpers ---- */

const hex = (b) => Buffer.from(b ?? []).toString('hex');
const bytes = (seed, n) => {
  const out = Buffer.alloc(n);
  for (let off = 0; off < n; off += 32) crypto.createHash('sha256').update(`${seed}:${off}`).digest().copy(out, off);
  return out;
};
const id16 = (seed) => bytes(`id${seed}`, 16);
const sig20 = (seed) => bytes(`sig${seed}`, 20);

/* The shape pbtool decode prints, from either a plain object or an SDK-decoded message. */
const normReceiver = (r) => ({ id: hex(r.id), isPrivate: !!r.isPrivate, signature: hex(r.signature) });
const normMessage = (m) => ({
  receivers: (m.receivers || []).map(normReceiver),
  sender: m.sender ? { type: (m.sender.type || 0) >>> 0, id: hex(m.sender.id) } : null,
  body: m.body || '',
  expiry: (m.expiry || 0) >>> 0,
  type: m.type || '',
});
function normRequest(rq) {
  if (rq.incomingMessages) return { kind: 'incomingMessages', messages: (rq.incomingMessages.messages || []).map(normMessage) };
  if (rq.channelStats) return { kind: 'channelStats', channels: (rq.channelStats.channels || []).map(normReceiver) };
  if (rq.serverStats) return { kind: 'serverStats' };
  return { kind: 'none' };
}
const normBatch = (b) => ({ requests: (b.requests || []).map(normRequest) });

/* Encodes obj with the SDK, decodes with pbtool, and compares with both obj and the SDK's
 * own decoding of the same bytes. */
function decodeCase(name, obj, args = []) {
  const wire = RequestBatch.encode(obj).finish();
  return decodeBytes(name, wire, normBatch(obj), args);
}

function decodeBytes(name, wire, expected, args = []) {
  const r = run(['decode', ...args], wire);
  if (!ok(r.status === 0, `${name}: pbtool decodes (${wire.length} bytes)`, `exit ${r.status}\n${r.stdout}${r.stderr}`)) return null;
  let got;
  try {
    got = JSON.parse(r.stdout.toString('utf8'));
  } catch (e) {
    ok(false, `${name}: pbtool output is JSON`, e.message);
    return null;
  }
  same(got, normBatch(RequestBatch.decode(wire)), `${name}: same as the SDK's decoding`);
  same(got, expected, `${name}: same as what was encoded`);
  return got;
}

function expectError(name, wire, code, args = []) {
  const r = run(['decode', ...args], wire);
  let err = null;
  try {
    err = JSON.parse(r.stdout.toString('utf8')).error;
  } catch { /* reported below */ }
  return ok(r.status === 1 && err === code, name, `exit ${r.status}, stdout ${r.stdout}, stderr ${r.stderr}`);
}

const phpBody = (i, params = {}) => JSON.stringify({
  module_id: 'im', command: 'message', params: { n: i, ...params },
  extra: { server_time: '2024-01-01T00:00:00+00:00', server_time_unix: 1704067200.5, revision_web: 19, revision_mobile: 3 },
});

const unicode = [
  'Привет, мир',
  '日本語のテキスト',
  'emoji 😀🎉👍🏽 and 𝄞',
  'mixed ASCII/Ελληνικά/עברית/العربية',
  '\u0000 nul and \u001f control and "quotes" and \\ backslash',
  '\u{10FFFF}\uFFFF\u0800\u07FF\u0080',
];

/* ---- client -> server: RequestBatch ---- */

/* 1. what PHP's ProtobufTransport sends: private receivers, body, expiry, type */
decodeCase('PHP publish', {
  requests: [{
    incomingMessages: {
      messages: [{
        receivers: [1, 2, 3].map((i) => ({ id: id16(i), isPrivate: true })),
        body: phpBody(1), expiry: 86400, type: 'im_message',
      }],
    },
  }],
});

/* 2. the SDK's own client publish encoder, PullClient.prototype.encodeMessageBatch */
{
  const client = Object.create(PullClient.prototype);
  const pub = (i) => hex(id16(`pub${i}`));
  const list = [
    { channelList: [`${pub(1)}.${hex(sig20(1))}`, { publicId: pub(2), signature: hex(sig20(2)) }],
      body: { module_id: 'test', command: 'hello', params: { text: 'Привет 😀' } }, expiry: 60 },
    { userList: [7, 8], body: { module_id: 'test', command: 'users', params: {} } },
  ];
  const publicIds = {
    7: { userId: 7, publicId: pub(7), signature: hex(sig20(7)) },
    8: { userId: 8, publicId: pub(8), signature: hex(sig20(8)) },
  };
  const wire = client.encodeMessageBatch(list, publicIds);
  const rcv = (i) => ({ id: pub(i), isPrivate: false, signature: hex(sig20(i)) });
  decodeBytes('PullClient.encodeMessageBatch', wire, {
    requests: [{
      kind: 'incomingMessages',
      messages: [
        { receivers: [rcv(1), rcv(2)], sender: null, body: JSON.stringify(list[0].body), expiry: 60, type: '' },
        { receivers: [rcv(7), rcv(8)], sender: null, body: JSON.stringify(list[1].body), expiry: 0, type: '' },
      ],
    }],
  });
}

/* 3. body sizes across the varint length boundaries (1, 2, 3 and 4-byte lengths) */
for (const n of [0, 1, 127, 128, 16383, 16384, 100000, 2097152]) {
  const body = 'x'.repeat(n);
  decodeCase(`body of ${n} bytes`, {
    requests: [{ incomingMessages: { messages: [{ receivers: [{ id: id16(n), isPrivate: true }], body, expiry: 1 }] } }],
  });
}

/* 4. unicode bodies and types */
decodeCase('unicode bodies', {
  requests: [{
    incomingMessages: {
      messages: unicode.map((s, i) => ({
        receivers: [{ id: id16(i), isPrivate: true }], body: JSON.stringify({ text: s }), type: `t_${i}`,
      })).concat(unicode.map((s, i) => ({ receivers: [{ id: id16(i) }], body: s, type: s }))),
    },
  }],
});

/* 5. many messages x many receivers (PHP's limits are 100 x 100), pbtool run with them */
decodeCase('100 messages x 100 receivers at the limits', {
  requests: [{
    incomingMessages: {
      messages: Array.from({ length: 100 }, (_, i) => ({
        receivers: Array.from({ length: 100 }, (__, k) => ({ id: id16(`${i}.${k}`), isPrivate: true })),
        body: phpBody(i), expiry: 86400 + i, type: 'im_message',
      })),
    },
  }],
}, ['-m', '100', '-r', '100']);

decodeCase('3000 small messages', {
  requests: [{ incomingMessages: { messages: Array.from({ length: 3000 }, (_, i) => ({ receivers: [{ id: id16(i) }], body: `${i}` })) } }],
});

/* 6. sender set (by a server relaying a client message), all enum values incl. unknown */
decodeCase('senders', {
  requests: [{
    incomingMessages: {
      messages: [0, 1, 2, 7].map((t) => ({ receivers: [{ id: id16(t) }], sender: { type: t, id: id16(`s${t}`) }, body: '{}' }))
        .concat([{ sender: {}, body: 'empty sender' }]),
    },
  }],
});

/* 7. channel stats (PHP's online query), server stats, several requests in one batch */
decodeCase('channelStats x 100', {
  requests: [{ channelStats: { channels: Array.from({ length: 100 }, (_, i) => ({ id: id16(i), isPrivate: true })) } }],
}, ['-c', '100']);
decodeCase('channelStats with signatures and public ids', {
  requests: [{ channelStats: { channels: [{ id: id16(1), signature: sig20(1) }, { id: id16(2), isPrivate: false }, {}] } }],
});
decodeCase('serverStats', { requests: [{ serverStats: {} }] });
decodeCase('several requests', {
  requests: [
    { incomingMessages: { messages: [{ receivers: [{ id: id16(1), isPrivate: true }], body: phpBody(1), expiry: 5 }] } },
    { channelStats: { channels: [{ id: id16(2), isPrivate: true }] } },
    { serverStats: {} },
    {},
    { incomingMessages: { messages: [] } },
  ],
});
decodeCase('empty batch', { requests: [] });
decodeCase('expiry at uint32 max', {
  requests: [{ incomingMessages: { messages: [{ receivers: [{ id: id16(1) }], body: 'b', expiry: 0xffffffff }] } }],
});

/* 8. limits, as the server will configure them */
const manyMessages = (n) => ({ requests: [{ incomingMessages: { messages: Array.from({ length: n }, () => ({ body: '{}' })) } }] });
expectError('101 messages > -m 100: PB_TOO_MANY_MESSAGES', RequestBatch.encode(manyMessages(101)).finish(), -2, ['-m', '100']);
expectError('101 receivers > -r 100: PB_TOO_MANY_CHANNELS', RequestBatch.encode({
  requests: [{ incomingMessages: { messages: [{ receivers: Array.from({ length: 101 }, (_, i) => ({ id: id16(i) })) }] } }],
}).finish(), -3, ['-r', '100']);
expectError('101 channels > -c 100: PB_TOO_MANY_CHANNELS', RequestBatch.encode({
  requests: [{ channelStats: { channels: Array.from({ length: 101 }, (_, i) => ({ id: id16(i) })) } }],
}).finish(), -3, ['-c', '100']);
expectError('2 requests > -q 1: PB_TOO_MANY_REQUESTS', RequestBatch.encode({ requests: [{ serverStats: {} }, { serverStats: {} }] }).finish(), -4, ['-q', '1']);

/* 9. every strict prefix of an SDK-encoded single-request batch is malformed */
{
  const wire = RequestBatch.encode({
    requests: [{
      incomingMessages: {
        messages: [{
          receivers: [{ id: id16(1), isPrivate: true, signature: sig20(1) }],
          sender: { type: 1, id: id16(2) }, body: '{"a":"é"}', expiry: 300, type: 'x',
        }],
      },
    }],
  }).finish();
  const bad = [];
  for (let n = 1; n < wire.length; n++) {
    const r = run(['decode'], wire.subarray(0, n));
    let err = null;
    try { err = JSON.parse(r.stdout.toString()).error; } catch { /* counted as bad */ }
    if (r.status !== 1 || err !== -1) bad.push(`prefix ${n}: exit ${r.status} ${r.stdout}${r.stderr}`);
  }
  ok(bad.length === 0, `all ${wire.length - 1} truncations rejected as PB_MALFORMED`, bad.join('\n'));
}

/* 10. protobufjs writes a lone surrogate as CESU bytes (ED A0 80): not UTF-8, rejected */
expectError('lone surrogate in body rejected', RequestBatch.encode({
  requests: [{ incomingMessages: { messages: [{ body: 'a\uD800b' }] } }],
}).finish(), -1);

/* ---- server -> client: ResponseBatch ---- */

function encodeOutgoing(msgs) {
  const lines = msgs.map((m) => [
    hex(m.id) || '-', hex(Buffer.from(m.body, 'utf8')) || '-', m.expiry, m.created, m.senderType, hex(m.senderId) || '-',
  ].join(' ')).join('\n') + '\n';
  return run(['encode-outgoing'], lines);
}

/* The 13-byte message ids of PS2: 26 decimal digits read as hex. */
const mid = (i) => Buffer.from(`1704067200${String(i).padStart(16, '0')}`, 'hex');

function outgoingCase(name, msgs) {
  const r = encodeOutgoing(msgs);
  if (!ok(r.status === 0, `${name}: pbtool encodes`, `exit ${r.status}\n${r.stderr}`)) return;
  let batch;
  try {
    batch = ResponseBatch.decode(r.stdout);
  } catch (e) {
    ok(false, `${name}: SDK decodes`, e.stack);
    return;
  }
  ok(batch.responses.length === 1 && batch.responses[0].command === 'outgoingMessages',
    `${name}: one outgoingMessages response`, JSON.stringify(batch.responses.map((x) => x.command)));
  const got = (batch.responses[0]?.outgoingMessages?.messages || []).map((m) => ({
    id: hex(m.id), body: m.body, expiry: m.expiry, created: m.created,
    sender: m.sender ? { type: m.sender.type, id: hex(m.sender.id) } : null,
  }));
  same(got, msgs.map((m) => ({
    id: hex(m.id), body: m.body, expiry: m.expiry, created: m.created, sender: { type: m.senderType, id: hex(m.senderId) },
  })), `${name}: every field as encoded (${msgs.length} messages, ${r.stdout.length} bytes)`);

  /* and through the client's own extraction, which drops the whole batch on any throw */
  const client = Object.create(PullClient.prototype);
  const errors = [];
  client.getLogger = () => ({ error: (...a) => { errors.push(a); return Promise.resolve(); } });
  const extracted = client.extractProtobufMessages(r.stdout.buffer.slice(r.stdout.byteOffset, r.stdout.byteOffset + r.stdout.length));
  const json = msgs.filter((m) => { try { JSON.parse(m.body); return true; } catch { return false; } });
  same(extracted.map((e) => ({ mid: e.mid, sender: e.text.extra.sender })),
    json.map((m) => ({ mid: hex(m.id), sender: { type: m.senderType, id: hex(m.senderId) } })),
    `${name}: PullClient.extractProtobufMessages yields every JSON message`);
}

outgoingCase('one PS2-style message', [
  { id: mid(1), body: phpBody(1), expiry: 86400, created: 1704067200, senderType: 2, senderId: Buffer.alloc(0) },
]);
outgoingCase('sender type 0 and empty ids still carry a sender', [
  { id: Buffer.alloc(0), body: '{}', expiry: 0, created: 0, senderType: 0, senderId: Buffer.alloc(0) },
]);
outgoingCase('client sender, extreme numbers', [
  { id: mid(2), body: phpBody(2), expiry: 0xffffffff, created: 0xffffffff, senderType: 1, senderId: id16('c') },
  { id: mid(3), body: phpBody(3), expiry: 127, created: 128, senderType: 1, senderId: id16('d') },
]);
for (const n of [1, 127, 128, 16383, 16384, 100000, 2097152]) {
  const body = JSON.stringify({ s: 'y'.repeat(Math.max(0, n - 8)) });
  outgoingCase(`body of ${body.length} bytes`, [
    { id: mid(n), body, expiry: 60, created: 1700000000, senderType: 2, senderId: Buffer.alloc(0) },
  ]);
}
outgoingCase('unicode bodies', unicode.map((s, i) => ({
  id: mid(10 + i), body: JSON.stringify({ module_id: 'im', command: 'm', params: { text: s } }),
  expiry: 86400, created: 1700000000 + i, senderType: 2, senderId: Buffer.alloc(0),
})));
outgoingCase('non-JSON body is skipped by the client, the rest kept', [
  { id: mid(20), body: 'd41d8cd98f00b204e9800998ecf8427e', expiry: 1, created: 2, senderType: 2, senderId: Buffer.alloc(0) },
  { id: mid(21), body: phpBody(21), expiry: 1, created: 2, senderType: 2, senderId: Buffer.alloc(0) },
]);
outgoingCase('500 messages', Array.from({ length: 500 }, (_, i) => ({
  id: mid(100 + i), body: phpBody(i, { pad: 'z'.repeat(i * 7) }), expiry: i, created: 1700000000 + i,
  senderType: i % 3, senderId: i % 3 === 1 ? id16(i) : Buffer.alloc(0),
})));
{
  const r = run(['encode-outgoing'], '');
  const b = ResponseBatch.decode(r.stdout);
  ok(r.status === 0 && b.responses.length === 1 && b.responses[0].command === 'outgoingMessages' &&
     b.responses[0].outgoingMessages.messages.length === 0, 'no messages: an empty outgoingMessages response');
}

/* channel stats: what PHP reads for its online query */
function statsCase(name, stats) {
  const r = run(['encode-stats'], stats.map((s) => `${hex(s.id) || '-'} ${s.isPrivate ? 1 : 0} ${s.isOnline ? 1 : 0}`).join('\n') + '\n');
  if (!ok(r.status === 0, `${name}: pbtool encodes`, r.stderr)) return;
  const b = ResponseBatch.decode(r.stdout);
  ok(b.responses.length === 1 && b.responses[0].command === 'channelStats', `${name}: one channelStats response`);
  same((b.responses[0]?.channelStats?.channels || []).map((c) => ({ id: hex(c.id), isPrivate: c.isPrivate, isOnline: c.isOnline })),
    stats.map((s) => ({ id: hex(s.id), isPrivate: !!s.isPrivate, isOnline: !!s.isOnline })), `${name}: every field as encoded`);
}
statsCase('channel stats', [
  { id: id16(1), isPrivate: true, isOnline: true },
  { id: id16(2), isPrivate: true, isOnline: false },
  { id: id16(3), isPrivate: false, isOnline: true },
  { id: Buffer.alloc(0), isPrivate: false, isOnline: false },
]);
statsCase('no channels', []);
statsCase('1000 channels', Array.from({ length: 1000 }, (_, i) => ({ id: id16(i), isPrivate: true, isOnline: i % 2 === 0 })));

/* server stats (JsonResponse) and the json member the SDK does not know */
for (const j of ['{"channels":1,"subscribers":[]}', '', JSON.stringify({ big: 'q'.repeat(20000), u: '😀' })]) {
  const r = run(['encode-server-stats'], j);
  const b = ResponseBatch.decode(r.stdout);
  ok(r.status === 0 && b.responses.length === 1 && b.responses[0].command === 'serverStats' &&
     b.responses[0].serverStats.json === j, `serverStats json of ${Buffer.byteLength(j)} bytes`);
}
{
  const r = run(['encode-json'], '{"ok":true}');
  let b = null;
  try { b = ResponseBatch.decode(r.stdout); } catch { /* reported below */ }
  ok(r.status === 0 && b && b.responses.length === 1 && b.responses[0].command === undefined,
    'json response (field 4) is skipped by the SDK without error');
  const client = Object.create(PullClient.prototype);
  client.getLogger = () => ({ error: () => Promise.resolve() });
  ok(client.extractProtobufMessages(new Uint8Array(r.stdout).buffer).length === 0, 'client extracts nothing from a json response');
}

finish();
