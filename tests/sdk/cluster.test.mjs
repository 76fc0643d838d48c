// Several nodes as one server (issue 8, Redis): three pullboxd nodes share one
// redis-server, over TLS as on the appliance (Redis with tls-port only, a CA and
// certificate made here with the openssl CLI; nodes A and C verify against the CA
// file, node B pins the CA's SHA-256). The unmodified SDK client on node B receives, in order and once
// each, what the Bitrix publish formats send to node A; then node B is killed
// (SIGKILL) while the client is held in a proxy, messages are published on A,
// and the proxy is repointed to node C: the client's reconnect carries its mid
// and it gets every message it missed, none twice. Skips only without
// redis-server (scripts/setup-deps installs it).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Tap, sleep, fail, waitFor, onCleanup } from './lib/tap.mjs';
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

for (const srv of [a, b, c]) await srv.stop();
await t.done();
