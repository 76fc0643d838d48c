// What every wizard UI test shares: where the tree and its build are, the
// wizard's address, cookie and test password, and the private network
// namespace each test runs in (lighttpd binds 443 there, on its own lo).
import { spawnSync, execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const OUT = process.env.O || path.join(REPO, 'out');
export const SHOTS = path.join(OUT, 'test', 'screenshots');
export const BASE = 'https://127.0.0.1';
export const COOKIE = '__Host-pullbox';
export const PASSWORD = 'correct horse battery staple';
const NS_MARK = 'PULLBOX_UI_NETNS';

// Runs the calling test again inside `unshare <flags>` (at most once: the
// copy inside finds the mark) and exits with its status; inside, brings lo up.
export function inPrivateNamespace(flags = ['-n']) {
  if (process.env[NS_MARK] !== '1') {
    if (process.getuid() !== 0) {
      console.log(`1..0 # SKIP needs root for unshare ${flags.join(' ')}`);
      process.exit(0);
    }
    const r = spawnSync('unshare', [...flags, '--', process.execPath, ...process.argv.slice(1)],
                        { stdio: 'inherit', env: { ...process.env, [NS_MARK]: '1' }, timeout: 850000 });
    process.exit(r.status ?? 1);
  }
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
}
