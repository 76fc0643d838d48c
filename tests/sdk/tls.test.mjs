// The unmodified B24PullClientManager "on an https page" against pullboxd's TLS listener
// (listen-subscribe-tls): document.location.href = 'https://…' makes the SDK use the
// *_secure URLs, i.e. wss://…/bitrix/subws/ and https://…/bitrix/sub/ (and https
// …/bitrix/rest/ for V4 client publishing), all pointed at the TLS port.
// V4 (protobuf) and V3 (text) over WebSocket and long polling, plus V5 over wss.
//
// Trust: the certificate comes from `pullboxd --make-cert CERT KEY 127.0.0.1`. Node reads
// extra CAs only at start-up (NODE_EXTRA_CA_CERTS), and `ws` and xhr2 both use Node's
// default trust store, so this file re-runs itself in a child node with
// NODE_EXTRA_CA_CERTS=<cert>. Verification stays on (no NODE_TLS_REJECT_UNAUTHORIZED,
// no rejectUnauthorized:false); the SDK sees a normally trusted server.
//
// Run: node tests/sdk/tls.test.mjs   (PULLBOX_BIN=... to pick a binary)

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from './lib/server.mjs';

const SELF = fileURLToPath(import.meta.url);

if (!process.env.PULLBOX_TLS_TEST_CERT) {
  // ---- parent: make the certificate, run the real test with it trusted ----
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pullbox-sdk-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync(BIN, ['--make-cert', cert, key, '127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) {
    process.stdout.write(`not ok 1 - pullboxd --make-cert ${cert} ${key} 127.0.0.1 works\n`);
    process.stdout.write(`# ${String(r.stderr || r.error || '').trim()}\n1..1\n`);
    rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  }
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: cert, PULLBOX_TLS_TEST_CERT: cert, PULLBOX_TLS_TEST_KEY: key };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  const child = spawn(process.execPath, [SELF], { env, stdio: 'inherit' });
  const forward = (sig) => () => { try { child.kill(sig); } catch { /* gone */ } };
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGTERM', forward('SIGTERM'));
  child.on('exit', (code, sig) => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(code === null ? 1 : code);
  });
} else {
  await runTests(process.env.PULLBOX_TLS_TEST_CERT, process.env.PULLBOX_TLS_TEST_KEY);
}

async function runTests(cert, key) {
  const tls = await import('node:tls');
  const { Tap, sleep, fail, diag } = await import('./lib/tap.mjs');
  const { startServer } = await import('./lib/server.mjs');
  const { payload, publishAs, makeUser } = await import('./lib/bitrix.mjs');
  const { newClient, urlParam, wsLog, xhrLog } = await import('./lib/client.mjs');

  // the page the client thinks it runs on (client.mjs installed document as http://…)
  globalThis.document.location.href = 'https://127.0.0.1/';

  const t = new Tap('tls');
  let srv;
  try {
    srv = await startServer({ longpollTimeout: 3, tls: { cert, key } });
    t.ok(true, `pullboxd starts with a TLS subscribe listener on ${srv.tlsPort} (pid ${srv.pid})`);
  } catch (e) {
    t.ok(false, 'pullboxd starts with listen-subscribe-tls', e.message);
    await t.done();
  }
  // the config's plain and secure URLs both name the TLS port: a client that wrongly
  // picked ws:// or http:// would speak plain HTTP to it and get a 400
  const base = `http://127.0.0.1:${srv.tlsPort}`;

  await t.test('the certificate verifies normally (NODE_EXTRA_CA_CERTS, verification on, ALPN http/1.1)', async () => {
    if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') fail('NODE_TLS_REJECT_UNAUTHORIZED=0 is set');
    const info = await new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: srv.tlsPort, ALPNProtocols: ['http/1.1'] }, () => {
        const r = { authorized: s.authorized, err: s.authorizationError, alpn: s.alpnProtocol, proto: s.getProtocol() };
        s.end();
        resolve(r);
      });
      s.on('error', reject);
    });
    if (!info.authorized) fail(`not authorized: ${info.err}`);
    if (info.alpn !== 'http/1.1') fail(`ALPN ${info.alpn}`);
    diag(`TLS connection: ${info.proto}, ALPN ${info.alpn}, authorized`);
  });

  await t.test('without the extra CA the same connection is refused (so the trust above is real)', async () => {
    const err = await new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: srv.tlsPort, ca: tls.rootCertificates }, () => { s.end(); resolve(null); });
      s.on('error', (e) => resolve(e));
    });
    if (!err) fail('connected although the certificate is not in the CA list');
    if (!/self[- ]signed|unable to verify|SELF_SIGNED/i.test(`${err.code} ${err.message}`)) fail(`unexpected error ${err.code} ${err.message}`);
  });

  const FORMATS = { 3: ['text'], 4: ['text', 'protobuf'], 5: ['rpc-channel', 'rpc-user'] };
  const cases = [[4, 'ws'], [4, 'lp'], [3, 'ws'], [3, 'lp'], [5, 'ws']];
  for (const [version, transport] of cases) {
    const tag = `V${version} ${transport === 'ws' ? 'wss' : 'https long polling'}`;
    const c = await newClient(srv, { version, transport, base });
    const wsBefore = wsLog.length;
    const xhrBefore = xhrLog.length;
    const up = await t.test(`${tag}: client on an https page connects to the TLS port`, async () => {
      await c.start();
      const want = transport === 'ws' ? `wss://127.0.0.1:${srv.tlsPort}/bitrix/subws/` : `https://127.0.0.1:${srv.tlsPort}/bitrix/sub/`;
      if (transport === 'ws') {
        const s = c.sockets().find((r) => r.opened);
        if (!s) fail('no opened websocket', c.debugText());
        if (!s.url.startsWith(want)) fail(`websocket URL ${s.url}, expected ${want}…`);
        if (version === 4 && urlParam(s.url, 'binaryMode') !== 'true') fail(`V4 without binaryMode: ${s.url}`);
        if (version === 5 && urlParam(s.url, 'jsonRpc') !== 'true') fail(`V5 without jsonRpc: ${s.url}`);
      } else {
        const p = c.polls()[0];
        if (!p) fail('no long poll request', c.debugText());
        if (!p.url.startsWith(want)) fail(`long poll URL ${p.url}, expected ${want}…`);
        if (c.sockets().length) fail('websocket used although websocket_enabled=false');
      }
      const plain = [...wsLog.slice(wsBefore), ...xhrLog.slice(xhrBefore)].filter((r) => r.url.includes(c.match) && /^(ws|http):/.test(r.url));
      if (plain.length) fail(`non-TLS URLs used: ${plain.map((r) => r.url).join(' ')}`);
    }, { timeout: 12000 });
    if (!up) { c.destroy(); continue; }
    await sleep(200);

    const fmts = FORMATS[version];
    const N = 3 * fmts.length;
    await t.test(`${tag}: ${N} published messages (${fmts.join(', ')}) arrive in order`, async () => {
      for (let i = 0; i < N; i++) {
        const fmt = fmts[i % fmts.length];
        await publishAs(fmt, srv, { privIds: [c.user.priv], userIds: [c.user.userId],
          body: payload('test', 'tls', { i, fmt, uni: 'TLS ✓ Привет 🎉', pad: 'z'.repeat(i === 1 ? 40000 : 10) }) });
      }
      const got = await c.waitCount(N, { timeout: 8000, filter: (m) => m.command === 'tls' });
      await sleep(300);
      const all = c.received.filter((m) => m.command === 'tls');
      if (all.map((m) => m.params.i).join() !== [...Array(N).keys()].join()) fail(`got [${all.map((m) => m.params.i).join(',')}]`, c.debugText());
      if (got.some((m) => m.params.uni !== 'TLS ✓ Привет 🎉')) fail('unicode mangled');
      if (all[1].params.pad.length !== 40000) fail('the 40 KB message was cut');
    }, { timeout: 12000 });

    if (transport === 'lp') {
      await t.test(`${tag}: long polls keep going over https after the 304 timeout`, async () => {
        const before = c.polls().length;
        await sleep(3800); // longpoll-timeout 3 s
        await publishAs(fmts[0], srv, { privIds: [c.user.priv], userIds: [c.user.userId], body: payload('test', 'after304', { ok: 1 }) });
        await c.waitCount(1, { timeout: 6000, filter: (m) => m.command === 'after304' });
        const polls = c.polls();
        if (polls.length <= before) fail('no new long poll after the timeout', c.debugText());
        if (!polls.some((p) => p.status === 304)) fail(`no 304 seen: ${polls.map((p) => p.status).join(',')}`, c.debugText());
        if (polls.some((p) => !p.url.startsWith('https://'))) fail('a long poll left https');
      }, { timeout: 14000 });
    }
    c.destroy();
  }

  // V4 client publishing over TLS: publish_secure = https://<tls port>/bitrix/rest/ (long polling sender)
  // and a binary frame on wss (websocket sender); receiver B on wss.
  {
    const uB = makeUser();
    const B = await newClient(srv, { version: 4, transport: 'ws', base, user: uB, name: 'B-wss' });
    const Alp = await newClient(srv, { version: 4, transport: 'lp', base, publicUsers: [uB], name: 'A-https' });
    const Aws = await newClient(srv, { version: 4, transport: 'ws', base, publicUsers: [uB], name: 'A-wss' });
    const up = await t.test('V4 client publish: receiver on wss and senders on wss / https connect', async () => {
      await Promise.all([B.start(), Alp.start(), Aws.start()]);
      await sleep(300);
    }, { timeout: 15000 });
    if (up) {
      for (const [A, cmd] of [[Aws, 'from_wss'], [Alp, 'from_https']]) {
        await t.test(`V4 client publish ${A.name} sendMessage([B]) → B gets a client event with sender = A`, async () => {
          await A.client.sendMessage([uB.userId], 'test', cmd, { n: 1 });
          await B.waitCount(1, { timeout: 6000, filter: (m) => m.command === cmd, what: cmd });
          const m = B.received.find((x) => x.command === cmd);
          if (m.type !== 'client' || !m.extra.sender || m.extra.sender.id !== A.user.pub) fail(`got ${JSON.stringify(m)}`);
          if (A === Alp) {
            // B may get the message before A's XHR has read its answer: wait for the answer
            const done = () => A.posts().length && A.posts().every((p) => p.status !== null);
            for (let k = 0; k < 150 && !done(); k++) await sleep(20);
            const posts = A.posts();
            if (!posts.length || !posts.every((p) => p.url.startsWith(`https://127.0.0.1:${srv.tlsPort}/bitrix/rest/`) && p.status === 200)) {
              fail(`client publish POSTs: ${JSON.stringify(posts)}`);
            }
          }
        }, { timeout: 10000 });
      }
    }
    B.destroy(); Alp.destroy(); Aws.destroy();
  }

  t.ok(!srv.exited(), 'pullboxd is still running', srv.log());
  await t.done();
}
