// Several nodes as one server (issue 8, Redis): three pullboxd nodes share one
// redis-server, over TLS as on the appliance (Redis with tls-port only, a CA and
// certificate made here with the openssl CLI; nodes A and C verify against the CA
// file, node B pins the CA's SHA-256). The unmodified SDK client on node B receives, in order and once
// each, what the Bitrix publish formats send to node A; then node B is killed
// (SIGKILL) while the client is held in a proxy, messages are published on A,
// and the proxy is repointed to node C: the client's reconnect carries its mid
// and it gets every message it missed, none twice. A new client instance resuming
// on a node started since, with a history of 100 messages of 2 KB, gets them all,
// framed. Skips only without redis-server (scripts/setup-deps installs it).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Tap, sleep, fail, waitFor, onCleanup, diag } from './lib/tap.mjs';
import { startServer, freePort } from './lib/server.mjs';
import { payload, publishAs } from './lib/bitrix.mjs';
import { newClient } from './lib/client.mjs';
import { startProxy } from './lib/proxy.mjs';

if (spawnSync('redis-server', ['--version']).status !== 0) {
  console.log('1..0 # SKIP redis-server is not installed (scripts/setup-deps installs it)');
  process.exit(0);
}

const t = new Tap('cluster');
const redisPort = await freePort();
const redisDir = mkdtempSync(path.join(os.tmpdir(), 'pullbox-sdk-redis-'));
const ossl = (...args) => {
  const r = spawnSync('openssl', args, { cwd: redisDir });
  if (r.status !== 0) fail(`openssl ${args[0]}: ${r.stderr}`);
};
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=cluster-ca',
  '-addext', 'basicConstraints=critical,CA:TRUE');
ossl('req', ...ec, '-keyout', 'redis.key', '-out', 'redis.csr', '-subj', '/CN=hub');
writeFileSync(path.join(redisDir, 'ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
ossl('x509', '-req', '-in', 'redis.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
  '-out', 'redis.crt', '-days', '1', '-extfile', 'ext');
const caFile = path.join(redisDir, 'ca.pem');
writeFileSync(path.join(redisDir, 'chain.pem'), readFileSync(path.join(redisDir, 'redis.crt'), 'utf8') + readFileSync(caFile, 'utf8'));
const caPin = new X509Certificate(readFileSync(caFile)).fingerprint256;
const redis = spawn('redis-server', ['--port', '0', '--tls-port', String(redisPort), '--bind', '127.0.0.1',
  '--tls-cert-file', 'chain.pem', '--tls-key-file', 'redis.key', '--tls-ca-cert-file', 'ca.pem',
  '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', redisDir], { stdio: 'ignore', cwd: redisDir });
onCleanup(() => { try { redis.kill('SIGKILL'); } catch { /* gone */ } rmSync(redisDir, { recursive: true, force: true }); });
await waitFor(() => new Promise((res) => {
  const s = net.connect(redisPort, '127.0.0.1', () => { s.destroy(); res(true); });
  s.on('error', () => res(false));
}), { timeout: 5000, what: 'redis-server to listen' });

const redisConf = (name) => ({
  redis: `127.0.0.1:${redisPort}`, 'node-name': name, 'redis-tls': 'on',
  ...(name === 'node-b' ? { 'redis-tls-fingerprint': caPin } : { 'redis-tls-ca': caFile }),
});
const node = (name) => startServer({ longpollTimeout: 2, extra: redisConf(name) });
const a = await node('node-a');
let b = await node('node-b');
const c = await node('node-c');
const ready = async (srv) => {
  const r = await fetch(`${srv.pubBase}/server-stat/`);
  const st = (await r.json())[0];
  return st.redis && st.redis.connected && st.redis.subscribed;
};
for (const srv of [a, b, c]) await waitFor(() => ready(srv), { timeout: 5000, what: 'the node to join Redis' });
t.ok(true, 'three nodes share one redis-server over TLS');

const seqOf = (cl) => cl.received.filter((m) => m.command === 'r').map((m) => m.params.i);

for (const [version, transport, fmt] of [[4, 'ws', 'protobuf'], [3, 'lp', 'text'], [4, 'ws', 'text']]) {
  const tag = `V${version} ${transport === 'ws' ? 'websocket' : 'long-polling'}, ${fmt} publish`;
  await t.test(`${tag}: client on node B gets what is published to node A in order; node B killed → the client moves to node C with its mid and misses nothing`, async () => {
    const proxy = await startProxy(b.subPort);
    const cl = await newClient(b, { version, transport, base: proxy.base });
    const pub = (i) => publishAs(fmt, a, { privIds: [cl.user.priv], body: payload('test', 'r', { i }) });
    try {
      await cl.start();
      await sleep(300);
      for (let i = 0; i < 5; i++) {
        const r = await pub(i);
        if (r && r.status !== undefined && r.status !== 200) fail(`publish ${i} on A: status ${r.status}`);
      }
      await cl.waitCount(5, { timeout: 8000, filter: (m) => m.command === 'r' });
      if (seqOf(cl).join() !== '0,1,2,3,4') fail(`expected 0..4 from node A via node B, got [${seqOf(cl).join(',')}]`, cl.debugText());
      proxy.hold();
      const ports = { subPort: b.subPort, pubPort: b.pubPort };
      await b.kill();
      proxy.cut();
      await waitFor(() => proxy.stats.held > 0, { timeout: 6000, what: 'the SDK to try to reconnect' });
      for (let i = 5; i < 10; i++) {
        const r = await pub(i);
        if (r && r.status !== undefined && r.status !== 200) fail(`publish ${i} on A: status ${r.status}`);
      }
      proxy.retarget(c.subPort);
      proxy.release();
      await cl.waitCount(10, { timeout: 12000, filter: (m) => m.command === 'r' });
      await pub(10);
      await cl.waitCount(11, { timeout: 6000, filter: (m) => m.command === 'r' });
      await sleep(400);
      const got = seqOf(cl);
      if (got.join() !== '0,1,2,3,4,5,6,7,8,9,10') fail(`expected 0..10 once each, got [${got.join(',')}]`, cl.debugText());
      const dup = cl.rawMids.filter((m, k) => cl.rawMids.indexOf(m) !== k);
      if (dup.length) fail(`server sent message ids twice: ${dup.join(',')}`);
      const mids = cl.rawMids;
      if (mids.some((m, k) => k && m <= mids[k - 1])) fail(`mids do not increase across nodes: ${mids.join(',')}`);
      b = await startServer({ longpollTimeout: 2, ports, extra: redisConf('node-b') });
      await waitFor(() => ready(b), { timeout: 5000, what: 'node B to rejoin' });
    } finally { cl.destroy(); await proxy.close(); }
  }, { timeout: 60000 });
}

// A big history from Redis: a node that started after it was published fetches the
// catch-up from Redis, which used to go out as one frame (about 225 KB for these
// 100 messages), past what some clients take; it is framed like any backlog now, and
// the SDK reassembles it in order.
const BIG = 100;
const bigFormats = (version) => (version === 5 ? ['rpc-channel', 'rpc-user'] : version === 4 ? ['text', 'protobuf'] : ['text']);
for (const version of [3, 4, 5]) {
  await t.test(`V${version} websocket: a new client with the old mid on a node started since gets a history of ${BIG} x 2 KB published on node A from Redis, in order, none twice, in several frames`, async () => {
    const c1 = await newClient(b, { version, transport: 'ws' });
    let c2, d;
    const fmts = bigFormats(version);
    const pub = (i) => publishAs(fmts[i % fmts.length], a, { privIds: [c1.user.priv], userIds: [c1.user.userId],
      body: payload('test', 'r', { i, pad: 'x'.repeat(2000) }) });
    try {
      await c1.start();
      await sleep(300);
      await pub(0);
      await c1.waitCount(1, { timeout: 6000, filter: (m) => m.command === 'r' });
      const lastMid = c1.client.session.mid;
      if (!lastMid) fail('SDK has no session.mid', c1.debugText());
      c1.destroy();
      for (let i = 1; i <= BIG; i++) await pub(i);
      d = await node(`node-d${version}`);
      await waitFor(() => ready(d), { timeout: 5000, what: 'node D to join Redis' });
      c2 = await newClient(d, { version, transport: 'ws', user: c1.user, shared: c1.shared, name: `${c1.name}-big` });
      c2.client.setLastMessageId(lastMid);
      await c2.start();
      await c2.waitCount(BIG, { timeout: 15000, filter: (m) => m.command === 'r' });
      await sleep(400);
      const got = seqOf(c2);
      const want = Array.from({ length: BIG }, (_, k) => k + 1);
      if (got.join() !== want.join()) fail(`expected 1..${BIG} once each, got [${got.join(',')}]`, c2.debugText());
      const dup = c2.rawMids.filter((m, k) => c2.rawMids.indexOf(m) !== k);
      if (dup.length) fail(`server sent message ids twice: ${dup.join(',')}`);
      diag(`V${version}: the catch-up came in ${c2.deliveries} frames`);
      if (c2.deliveries < 5) fail(`the catch-up came in ${c2.deliveries} frame(s)`);
    } finally { c1.destroy(); if (c2) c2.destroy(); if (d) await d.stop(); }
  }, { timeout: 40000 });
}

for (const srv of [a, b, c]) await srv.stop();
await t.done();
