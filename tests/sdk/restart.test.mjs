// No message lost across a restart (issue 8, journal): the unmodified SDK client
// is cut off (proxy holds its reconnect), messages are published and
// acknowledged, pullboxd is killed with SIGKILL (a crash) and started again on
// the same ports with the same journal; when the client's reconnect goes
// through, with its mid, it gets every message it missed, in order, none twice.
// The restart is done while the proxy holds the reconnect, so the SDK never
// sees a refused connection (which would back off 15 s).

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tap, sleep, fail, waitFor } from './lib/tap.mjs';
import { startServer } from './lib/server.mjs';
import { payload, publishAs } from './lib/bitrix.mjs';
import { newClient } from './lib/client.mjs';
import { startProxy } from './lib/proxy.mjs';

const t = new Tap('restart');
const journal = mkdtempSync(path.join(os.tmpdir(), 'pullbox-sdk-journal-'));
const extra = { 'journal-path': journal, 'journal-sync': 'always' };
let srv = await startServer({ longpollTimeout: 2, extra });
t.ok(true, `pullboxd starts with journal-path (pid ${srv.pid})`);

const seqOf = (c) => c.received.filter((m) => m.command === 'r').map((m) => m.params.i);

for (const [version, transport, fmt] of [[4, 'ws', 'protobuf'], [3, 'lp', 'text'], [5, 'ws', 'rpc-channel']]) {
  const tag = `V${version} ${transport === 'ws' ? 'websocket' : 'long-polling'}`;
  await t.test(`${tag}: client cut off, 4 messages acknowledged, pullboxd killed and restarted → the client resumes with mid and gets all 4, none twice`, async () => {
    const proxy = await startProxy(srv.subPort);
    const c = await newClient(srv, { version, transport, base: proxy.base });
    const pub = (i) => publishAs(fmt, srv, { privIds: [c.user.priv], body: payload('test', 'r', { i }) });
    try {
      await c.start();
      await sleep(200);
      for (let i = 0; i < 2; i++) await pub(i);
      await c.waitCount(2, { timeout: 6000, filter: (m) => m.command === 'r' });
      proxy.hold();
      proxy.cut();
      await waitFor(() => proxy.stats.held > 0, { timeout: 4000, what: 'the SDK to try to reconnect' });
      for (let i = 2; i < 6; i++) {
        const r = await pub(i);
        if (r && r.status !== undefined && r.status !== 200) fail(`publish ${i}: status ${r.status}`);
      }
      const ports = { subPort: srv.subPort, pubPort: srv.pubPort };
      await srv.kill();
      srv = await startServer({ longpollTimeout: 2, extra, ports });
      proxy.release();
      await c.waitCount(6, { timeout: 10000, filter: (m) => m.command === 'r' });
      await sleep(400);
      const got = seqOf(c);
      if (got.join() !== '0,1,2,3,4,5') fail(`expected 0..5 once each, got [${got.join(',')}]`, c.debugText());
      const dup = c.rawMids.filter((m, k) => c.rawMids.indexOf(m) !== k);
      if (dup.length) fail(`server sent message ids twice: ${dup.join(',')}`);
      await pub(6);
      await c.waitCount(7, { timeout: 5000, filter: (m) => m.command === 'r' });
      const mids = c.rawMids;
      if (mids.some((m, k) => k && m <= mids[k - 1])) fail(`mids do not increase across the restart: ${mids.join(',')}`);
    } finally { c.destroy(); await proxy.close(); }
  }, { timeout: 40000 });
}

await srv.stop();
rmSync(journal, { recursive: true, force: true });
await t.done();
