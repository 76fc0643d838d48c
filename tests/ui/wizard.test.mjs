// The setup wizard end to end: a temporary appliance tree (tests/lib/approot.py)
// with real runit, pullboxd, the apply service and lighttpd running the CGI on
// 80/443, driven by headless Chromium (Debian's) through playwright-core, and
// by plain node requests for what a browser never sends. Everything runs in a
// private network namespace (unshare -n): the ports are free there and the
// firewall rules the apply service loads stay inside.
//
//   cd tests/ui && node wizard.test.mjs        (as root; prints TAP)
//
// Screenshots of every page go to $O/test/screenshots/wizard-<page>.png.
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ok, note, done } from './lib/tap.mjs';
import { request, form, multipart, hugeUpload, cookieFrom, csrfFrom } from './lib/http.mjs';

import { REPO, OUT, SHOTS, BASE, COOKIE, PASSWORD, inPrivateNamespace } from './lib/appenv.mjs';

// ---- a private network namespace ----
inPrivateNamespace();

const { chromium } = await import('playwright-core');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pullbox-ui-'));
fs.chmodSync(root, 0o755);
const approot = (...args) => execFileSync('python3', [path.join(REPO, 'tests/lib/approot.py'), ...args],
                                          { encoding: 'utf8', timeout: 180000, env: { ...process.env, O: OUT } });
const file = (rel) => path.join(root, rel);
const read = (rel) => fs.readFileSync(file(rel), 'utf8');
const readOr = (rel) => { try { return read(rel); } catch { return ''; } };
const keyvals = (text) => Object.fromEntries(text.split('\n')
  .filter((l) => l.includes('=') && !l.trim().startsWith('#'))
  .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]));
const settings = () => keyvals(read('data/etc/settings.conf'));
const secrets = () => keyvals(read('data/etc/secrets.conf'));
const WATCHED = ['data/etc/settings.conf', 'data/etc/secrets.conf', 'data/pullbox/pullbox.conf',
                 'data/etc/firewall.conf', 'data/etc/network.conf', 'data/etc/hostname',
                 'data/pullbox/tls/cert.pem', 'data/pullbox/tls/key.pem'];
const snapshot = () => Object.fromEntries(WATCHED.map((r) => [r, readOr(r)]));
const sameFiles = (a, b) => WATCHED.filter((r) => a[r] !== b[r]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const STATE = 'run/pullbox-wizard';
const stateFiles = () => fs.readdirSync(file(STATE)).sort();

let browser;
let info;

async function waitFor443(ms = 60000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { await request({ path: '/static/style.css' }); return true; } catch { await sleep(300); }
  }
  return false;
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `wizard-${name}.png`), fullPage: true });
}

// Submits the form whose button says `button` and waits for the next page.
async function submit(page, button) {
  await Promise.all([page.waitForLoadState('load'), page.waitForNavigation({ timeout: 120000 }),
                     page.getByRole('button', { name: button }).click()]);
}

async function main() {
  info = JSON.parse(approot('start', root, '--lighttpd'));
  note(`appliance tree in ${root}`);
  ok(await waitFor443(), 'lighttpd answers on 443');

  // ---- before the claim ----
  const paths = ['/', '/network', '/site', '/certificates', '/keys', '/firewall', '/cluster', '/bitrix', '/selftest',
                 '/status', '/backup', '/login', '/logout', '/no-such-page', '/network/confirm'];
  const wrong = [];
  for (const p of paths) {
    const r = await request({ path: p });
    if (r.status !== 303 || r.headers.location !== '/claim') wrong.push(`${p}: ${r.status} ${r.headers.location}`);
  }
  ok(wrong.length === 0, 'before the claim every page redirects to /claim', wrong.join('\n'));
  const postBefore = await request({ method: 'POST', path: '/site', body: form({ 'site.version': '2' }),
                                     headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE } });
  ok(postBefore.status === 303 && postBefore.headers.location === '/claim', 'a POST before the claim redirects too');
  const plain = await request({ scheme: 'http', path: '/network?x=1' });
  ok(plain.status === 301 && plain.headers.location === 'https://127.0.0.1/network?x=1', 'port 80 redirects to 443');
  const claimRes = await request({ path: '/claim' });
  const h = claimRes.headers;
  ok(claimRes.status === 200 && /default-src 'none'/.test(h['content-security-policy']) &&
     /frame-ancestors 'none'/.test(h['content-security-policy']) && h['x-frame-options'] === 'DENY' &&
     h['x-content-type-options'] === 'nosniff' && h['referrer-policy'] === 'no-referrer' &&
     h['cache-control'] === 'no-store', 'the claim page carries the security headers once each', JSON.stringify(h));
  ok(!h['set-cookie'], 'the claim page sets no cookie (no session before the claim)', JSON.stringify(h['set-cookie']));
  // a visitor costs no file: the forms before login carry a stateless token
  const stateBefore = stateFiles();
  const visits = [];
  for (let i = 0; i < 60; i++) visits.push(request({ path: i % 2 ? '/claim' : '/login' }));
  const visitCodes = (await Promise.all(visits)).map((r) => r.status);
  const stateAfter = stateFiles();
  ok(visitCodes.every((c) => c === 200 || c === 303) && stateAfter.filter((n) => !stateBefore.includes(n)).length <= 1 &&
     !stateAfter.some((n) => /\.session$/.test(n)),
     '60 cookie-less visits to /claim and /login store no session (state folder: ' + stateAfter.join(' ') + ')');

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
                                    args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true,
                                             viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  const consoleErrors = [];
  // pages answered with an error status (a refused form) are logged too: not what is looked for
  page.on('console', (m) => {
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of (400|403|429) /.test(m.text()))
      consoleErrors.push(m.text());
  });

  await page.goto(`${BASE}/status`);
  ok(page.url() === `${BASE}/claim`, 'the browser lands on the claim page', page.url());
  await shot(page, 'claim');

  // ---- claim ----
  await page.fill('#f-setup-code', 'WRNG-CODE-0000');
  await page.fill('#f-password', PASSWORD);
  await page.fill('#f-password2', PASSWORD);
  await submit(page, 'Claim the appliance');
  ok(/not the setup code/.test(await page.textContent('#setup-code-error') || ''),
     'a wrong setup code is refused next to its field');
  ok(!fs.existsSync(file('data/etc/claimed')), '... and the appliance stays unclaimed');

  await page.fill('#f-setup-code', info.setup_code.toLowerCase());
  await page.fill('#f-password', 'short');
  await page.fill('#f-password2', 'short');
  await submit(page, 'Claim the appliance');
  ok(await page.locator('#password-error').count() === 1, 'a too short password is refused next to its field');

  await page.fill('#f-setup-code', info.setup_code);
  await page.fill('#f-password', PASSWORD);
  await page.fill('#f-password2', PASSWORD);
  await submit(page, 'Claim the appliance');
  ok(page.url() === `${BASE}/network`, 'the claim leads to the network page', page.url());
  ok(fs.existsSync(file('data/etc/claimed')), 'the appliance is claimed');
  const claimCookie = (await context.cookies()).find((c) => c.name === COOKIE);
  ok(claimCookie && claimCookie.secure && claimCookie.httpOnly && claimCookie.sameSite === 'Strict' && claimCookie.path === '/',
     'the claim opens a session: its cookie is Secure, HttpOnly, SameSite=Strict', JSON.stringify(claimCookie));
  ok(/^\$y\$/.test(secrets()['admin-password-hash'] || ''), 'the admin password is stored as a yescrypt hash');
  ok((await request({ path: '/claim' })).headers.location === '/login', 'after the claim /claim leads to the login');

  // ---- logout, login ----
  await submit(page, 'Log out');
  ok(page.url() === `${BASE}/login`, 'log out leads to the login page');
  ok((await page.goto(`${BASE}/keys`)) && page.url() === `${BASE}/login`, 'logged out, a page redirects to the login');
  await shot(page, 'login');
  await page.fill('#f-password', 'not the password');
  await submit(page, 'Log in');
  ok(/Wrong password/.test(await page.textContent('main')), 'a wrong password is refused');
  await page.fill('#f-password', PASSWORD);
  await submit(page, 'Log in');
  ok(page.url() === `${BASE}/network`, 'the right password logs in', page.url());

  // ---- rate limit (from another loopback address, so the browser is not blocked) ----
  const rl = await rateLimit('127.0.0.7');
  ok(rl.codes.slice(0, 5).every((c) => c === 403), 'five wrong passwords are refused one by one', rl.codes.join(' '));
  ok(rl.codes[5] === 429 && /try again in \d+ s/.test(rl.body) && Number(rl.retry) > 0,
     'the sixth attempt gets 429 "try again in N s"', rl.codes.join(' ') + '\n' + rl.body.slice(0, 400));
  ok(rl.rightCode === 429, 'while limited even the right password is refused');
  const par = await parallelGuesses('127.0.0.8', 40);
  ok(par.hashed === 5 && par.refused === 35,
     `40 parallel wrong passwords from one address: ${par.hashed} checked (403), ${par.refused} refused (429)`, par.codes.join(' '));

  // ---- network ----
  await page.goto(`${BASE}/network`);
  ok(await page.getAttribute('nav a[aria-current="page"]', 'href') === '/network', 'the navigation marks the current page');
  const net0 = readOr('data/etc/network.conf');
  await page.fill('[name="hostname"]', 'wizard-test');
  await page.selectOption('[name="network.mode"]', 'static');
  await page.fill('[name="network.address"]', '192.0.2.10/24');
  await page.fill('[name="network.gateway"]', '192.0.2.1');
  await page.fill('[name="network.dns"]', '192.0.2.53');
  await page.fill('[name="network.ntp"]', 'ntp.example.org');
  await submit(page, 'Save and apply');
  let st = settings();
  ok(st.hostname === 'wizard-test' && st['network.mode'] === 'static' && st['network.address'] === '192.0.2.10/24' &&
     st['network.gateway'] === '192.0.2.1' && st['network.dns'] === '192.0.2.53' && st['network.ntp'] === 'ntp.example.org',
     'the network settings are saved', JSON.stringify(st));
  ok(read('data/etc/network.conf') !== net0 && /192\.0\.2\.10/.test(read('data/etc/network.conf')),
     'network.conf is rendered with the static address');
  ok(/wizard-test/.test(readOr('data/etc/hostname')), 'the host name file is rendered');
  ok(/Applied/.test(await page.textContent('section.result')), 'the page shows the apply service\'s steps');
  const confirmText = await page.locator('section.confirm').textContent().catch(() => '');
  ok(/within \d+ s/.test(confirmText), 'a network change asks to be confirmed within N s', confirmText);
  await shot(page, 'network');
  await submit(page, 'Keep the new network settings');
  ok(/kept/.test(await page.textContent('section.result')), 'the confirmation is applied');
  ok(await page.locator('section.confirm').count() === 0, '... and the question is gone');

  // ---- site ----
  await page.goto(`${BASE}/site`);
  const pb0 = read('data/pullbox/pullbox.conf');
  await page.fill('[name="site.public-name"]', 'push.example.com');
  await page.fill('[name="site.publishers"]', '192.0.2.20 198.51.100.0/24');
  await page.selectOption('[name="site.version"]', '4');
  await page.selectOption('[name="site.signature-algorithm"]', 'sha256');
  await submit(page, 'Save and apply');
  st = settings();
  ok(st['site.public-name'] === 'push.example.com' && st['site.publishers'] === '192.0.2.20 198.51.100.0/24' &&
     st['site.version'] === '4' && st['site.signature-algorithm'] === 'sha256', 'the site settings are saved', JSON.stringify(st));
  ok(read('data/pullbox/pullbox.conf') !== pb0 && /sha256/.test(read('data/pullbox/pullbox.conf')),
     'pullbox.conf is rendered with the new algorithm');
  ok(/198\.51\.100\.0\/24/.test(read('data/etc/firewall.conf')), 'firewall.conf lets the publishers in');
  await shot(page, 'site');

  // a refused field: error next to it, naming what is accepted, nothing applied
  let before = snapshot();
  await page.fill('[name="site.public-name"]', 'bad name!');
  await submit(page, 'Save and apply');
  const fieldErr = await page.locator('[id="site.public-name-error"]').textContent().catch(() => '');
  ok(fieldErr.length > 0, 'an invalid public name is refused next to its field', fieldErr);
  ok(sameFiles(before, snapshot()).length === 0, '... and no file changed');

  // ---- firewall ----
  await page.goto(`${BASE}/firewall`);
  await page.fill('[name="firewall.subscribe"]', '192.0.2.0/24 203.0.113.0/24');
  await page.fill('[name="firewall.admin"]', '127.0.0.0/8 192.0.2.0/24');
  await submit(page, 'Save and apply');
  st = settings();
  ok(st['firewall.subscribe'] === '192.0.2.0/24 203.0.113.0/24' && st['firewall.admin'] === '127.0.0.0/8 192.0.2.0/24',
     'the firewall settings are saved', JSON.stringify(st));
  ok(/203\.0\.113\.0\/24/.test(read('data/etc/firewall.conf')), 'firewall.conf is rendered');
  const rules = await page.textContent('#rules').catch(() => '');
  ok(/8893/.test(rules) && /203\.0\.113\.0\/24/.test(rules), 'the page shows the iptables rules', rules.slice(0, 300));
  await shot(page, 'firewall');
  // the per-source limits: one validator, rendered into the rules
  ok(await page.inputValue('[name="firewall.ssh-rate"]') === '10' &&
     await page.inputValue('[name="firewall.subscribe-connections"]') === '5000',
     'the Firewall page shows the per-source limits with their defaults');
  await page.fill('[name="firewall.ssh-rate"]', '1001');
  await submit(page, 'Save and apply');
  const rateErr = await page.locator('[id="firewall.ssh-rate-error"]').textContent().catch(() => '');
  ok(rateErr.length > 0 && settings()['firewall.ssh-rate'] === '10', 'a limit out of its range is refused next to its field', rateErr);
  await page.fill('[name="firewall.ssh-rate"]', '12');
  await submit(page, 'Save and apply');
  ok(settings()['firewall.ssh-rate'] === '12' && /SSH_NEW_PER_MIN=12/.test(read('data/etc/firewall.conf')) &&
     /--hashlimit-above 12\/minute/.test(await page.textContent('#rules').catch(() => '')),
     'a new SSH rate is saved, rendered and shown in the rules');

  // ---- SSH: keys only is refused while admin has no key ----
  await page.goto(`${BASE}/ssh`);
  ok(await page.getAttribute('nav a[aria-current="page"]', 'href') === '/ssh', 'the navigation links the SSH page');
  ok(await page.inputValue('[name="ssh.key-only"]') === 'no', 'SSH takes the password by default');
  await page.selectOption('[name="ssh.key-only"]', 'yes');
  await submit(page, 'Save and apply');
  const sshErr = await page.locator('[id="ssh.key-only-error"]').textContent().catch(() => '');
  ok(/no SSH key is installed for admin.*\(ssh\.key-only\)/.test(sshErr), 'keys only without a key is refused next to the field, naming the setting', sshErr);
  ok(settings()['ssh.key-only'] === 'no' && /PASSWORD_LOGIN=yes\n/.test(read('data/etc/dropbear.conf')),
     '... and SSH still takes the password');
  await shot(page, 'ssh');
  await sshKeys(page);
  await everySettingHasAField(page);

  // ---- cluster ----
  await cluster(page);

  // ---- certificates ----
  await certificates(page);

  // ---- keys ----
  await page.goto(`${BASE}/keys`);
  const key0 = secrets()['signature-key'];
  ok(key0 && (await page.textContent('#key-current')) === key0, 'the keys page shows the signing key');
  ok(await page.locator('button.copy[data-copy="key-current"]').isVisible(), 'the copy button is shown (script allowed by the CSP)');
  await page.fill('[name="key.grace-period"]', '3600');
  await submit(page, 'Rotate the signing key');
  const sec = secrets();
  ok(sec['signature-key'] && sec['signature-key'] !== key0 && sec['signature-key-previous'] === key0,
     'the key is rotated and the old one kept as previous', JSON.stringify({ ...sec, 'admin-password-hash': '…' }));
  ok(settings()['key.grace-period'] === '3600', 'the grace period is saved');
  ok((await page.textContent('#key-current')) === sec['signature-key'] &&
     (await page.textContent('#key-previous')) === key0, 'the page shows the new key and the previous one');
  await shot(page, 'keys');

  // ---- Bitrix settings ----
  await bitrix(page);

  // ---- self-test ----
  await page.goto(`${BASE}/selftest`);
  await submit(page, 'Run the self-test');
  const steps = await page.locator('#selftest-steps li').allTextContents();
  const bad = await page.locator('#selftest-steps li.error').allTextContents();
  ok(steps.length >= 2 && bad.length === 0, `the self-test passes every step (${steps.length})`, steps.join('\n'));
  await shot(page, 'selftest');

  // ---- status ----
  await page.goto(`${BASE}/status`);
  const services = await page.textContent('#services');
  ok(/pullboxd\s*running/.test(services) && /pullbox-apply\s*running/.test(services), 'the status page lists the services running', services);
  ok(await page.locator('#metrics').count() === 1, 'the status page shows pullboxd\'s figures');
  await graphs(page);
  await shot(page, 'status');

  // ---- backup and restore ----
  await backup(page);

  // ---- CSRF, origin and hostile input, from outside the browser ----
  const cookies = await context.cookies();
  const sid = cookies.find((c) => c.name === COOKIE)?.value;
  ok(!!sid, 'the browser holds the session cookie');
  await hostile(sid);
  await sessionsEnd(page);
  await globalBackoff();

  ok(consoleErrors.length === 0, 'no script or CSP errors in the browser console', consoleErrors.join('\n'));
}

// The cluster page: hub (its password shown to copy), a node with a bad hub
// address (the error names the field, nothing applied), a node, standalone.
// The SSH keys on the wizard's SSH page, with the console's rules: a line
// that is no key is refused before the apply service sees it, a bad key by
// the apply service, and the last key stays while SSH takes keys only.
async function sshKeys(page) {
  const KEYS = 'data/home/admin/.ssh/authorized_keys';
  const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFFu4mzUCAt4i1m4kfm7ZLqpYHxHpF0t4eM1zKcHpQ8c wizard@test';
  await page.goto(`${BASE}/ssh`);
  ok(await page.locator('#ssh-keys-none').count() === 1, 'the SSH page says no key may log in yet');
  const keyErr = async () => page.locator('[id="key-error"]').textContent().catch(() => '');
  await page.fill('[name="key"]', 'rm -rf / #');
  await submit(page, 'Add the key');
  ok(/not a public key line/.test(await keyErr()) && readOr(KEYS) === '', 'a line that is no key is refused next to the field');
  await page.fill('[name="key"]', 'ssh-ed25519 AAAA<b>x</b> me');
  await submit(page, 'Add the key');
  const bad = await keyErr();
  ok(/base64|not a/.test(bad) && readOr(KEYS) === '', 'a key the apply service cannot decode is refused with its words', bad);
  ok(await page.locator('[id="key-error"] b').count() === 0, '... and the pasted markup is shown escaped');
  await page.fill('[name="key"]', pub);
  await submit(page, 'Add the key');
  ok(readOr(KEYS).includes(pub), 'a pasted key lands in authorized_keys');
  ok(/wizard@test/.test(await page.locator('#ssh-keys').textContent().catch(() => '')), 'and is listed with its comment');
  await page.selectOption('[name="ssh.key-only"]', 'yes');
  await submit(page, 'Save and apply');
  ok(settings()['ssh.key-only'] === 'yes' && /PASSWORD_LOGIN=no\n/.test(read('data/etc/dropbear.conf')),
     'with a key, SSH takes keys only');
  await shot(page, 'ssh-keys');
  await submit(page, 'Remove');
  const remErr = await page.locator('#remove-error').textContent().catch(() => '');
  ok(/last SSH key/.test(remErr) && readOr(KEYS).includes(pub), 'the last key stays while SSH takes keys only', remErr);
  await page.selectOption('[name="ssh.key-only"]', 'no');
  await submit(page, 'Save and apply');
  await submit(page, 'Remove');
  ok(!readOr(KEYS).includes(pub) && await page.locator('#ssh-keys-none').count() === 1,
     'with passwords back on, the key is removed');
}

// Every setting the apply service keeps is a field on some page the
// navigation links: a setting no page shows fails here.
async function everySettingHasAField(page) {
  await page.goto(`${BASE}/network`);
  const pages = await page.locator('nav a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  const fields = new Set();
  for (const p of pages) {
    await page.goto(`${BASE}${p}`);
    for (const n of await page.locator('form [name]').evaluateAll((els) => els.map((e) => e.getAttribute('name'))))
      fields.add(n);
  }
  const missing = Object.keys(settings()).filter((k) => !fields.has(k));
  ok(Object.keys(settings()).length > 15 && missing.length === 0,
     `every setting is a field on a page of the navigation (${pages.length} pages)`, missing.join(' '));
}

// The Status page's graphs: empty until pullbox-sampler (the appliance's
// runit service, run here by hand against the tree's pullboxd) has written
// its ring file, then one SVG line chart per figure and window.
async function graphs(page) {
  const charts = ['connections', 'messages', 'deliveries', 'memory', 'drops'];
  ok(await page.locator('figure.chart svg').count() === 10 &&
     await page.locator('figure.chart text.empty').count() === 10,
     'before any sample: ten charts (five figures, hour and day) that say there are no figures yet');
  const dir = file('data/graphs');
  fs.mkdirSync(dir, { recursive: true });
  const bin = [path.join(OUT, 'config-ui-san', 'pullbox-sampler'), path.join(OUT, 'config-ui', 'pullbox-sampler')]
    .find((p) => fs.existsSync(p));
  const r = spawnSync(bin, ['-i', '1', '-n', '3', path.join(dir, 'pullboxd.ring')], { encoding: 'utf8', timeout: 60000 });
  ok(r.status === 0, 'pullbox-sampler takes three samples of the tree\'s pullboxd', r.stderr);
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.join(dir, 'pullboxd.ring'), 0o644); // the appliance's folder is setgid config instead
  await page.goto(`${BASE}/status`);
  const drawn = [];
  for (const c of charts)
    for (const w of ['hour', 'day'])
      if (await page.locator(`#${c}-${w} svg :is(polyline, circle)`).count() > 0) drawn.push(`${c}-${w}`);
  ok(drawn.length === 10, 'then each figure is drawn for the hour and the day', drawn.join(' '));
  const mem = await page.locator('#memory-hour text.last').textContent().catch(() => '');
  ok(/now: [\d.]+ (KiB|MiB|GiB)/.test(mem), 'memory is labelled in binary units', mem);
  ok(/-60 min/.test(await page.locator('#connections-hour').textContent()) &&
     /-24 h/.test(await page.locator('#connections-day').textContent()),
     'the time axes say which window they show');
  ok(await page.locator('#connections-hour svg').getAttribute('width') === '640', 'the charts have a fixed size');
}

async function cluster(page) {
  await page.goto(`${BASE}/cluster`);
  ok(await page.getAttribute('nav a[aria-current="page"]', 'href') === '/cluster', 'the navigation links the cluster page');
  const text = await page.textContent('main');
  ok(/One appliance/.test(text) && /This appliance is the hub/.test(text) && /Use the hub at another address/.test(text),
     'the three roles are explained');
  ok(await page.isChecked('#role-standalone'), 'standalone is the factory role');
  ok(await page.locator('#hub-password').count() === 0, 'no hub password while standalone');
  await page.check('#role-hub');
  await page.fill('[name="cluster.peers"]', '192.0.2.21 2001:db8::21');
  await submit(page, 'Save and apply');
  let st = settings();
  const hubPw = secrets()['redis-password'] || '';
  ok(st['cluster.role'] === 'hub' && st['cluster.peers'] === '192.0.2.21 2001:db8::21', 'hub: the settings are saved', JSON.stringify(st));
  ok(/^[0-9a-f]{64}$/.test(hubPw), 'hub: the apply service made a Redis password');
  ok((await page.textContent('#hub-password').catch(() => '')) === hubPw, 'the page shows the hub password to copy');
  ok(await page.locator('button.copy[data-copy="hub-password"]').isVisible(), '... with a copy button');
  ok(readOr('data/etc/redis.conf').includes(`\nuser pullbox reset on >${hubPw} ~pullbox:* `), 'redis.conf gives it to user pullbox');
  const hubCa = (await page.textContent('#hub-ca').catch(() => '')) || '';
  ok(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(hubCa), 'the page shows the hub\'s CA fingerprint to copy', hubCa);
  ok(/REDIS_PEERS="192\.0\.2\.21 2001:db8::21"/.test(read('data/etc/firewall.conf')), 'firewall.conf opens 6379 to the peers');
  await shot(page, 'cluster-hub');

  // a node with a bad hub address: refused next to the field, nothing applied
  const before = snapshot();
  await page.check('#role-node');
  await page.fill('[name="cluster.hub"]', '2001:db8::20');
  await page.fill('[name="cluster.hub-password"]', 'node-password-0123456789');
  await submit(page, 'Save and apply');
  const hubErr = await page.locator('[id="cluster.hub-error"]').textContent().catch(() => '');
  ok(/^Hub address: 2001:db8::20 is an IPv6 address without brackets/.test(hubErr),
     'a bad hub address is refused next to the field, naming it', hubErr);
  ok(sameFiles(before, snapshot()).length === 0 && settings()['cluster.role'] === 'hub', '... and nothing changed');
  ok(await page.isChecked('#role-node'), '... and the form keeps the choice typed');
  await page.fill('[name="cluster.hub"]', '');
  await page.fill('[name="cluster.hub-password"]', 'node-password-0123456789');
  await submit(page, 'Save and apply');
  const emptyErr = await page.locator('[id="cluster.hub-error"]').textContent().catch(() => '');
  ok(/^Hub address: a node needs the hub's address/.test(emptyErr), 'a node without a hub address: the error names the field', emptyErr);
  await shot(page, 'cluster-error');

  await page.fill('[name="cluster.hub"]', '192.0.2.20:6380');
  await page.fill('[name="cluster.hub-password"]', 'short');
  await submit(page, 'Save and apply');
  const pwErr = await page.locator('[id="cluster.hub-password-error"]').textContent().catch(() => '');
  ok(/^Hub password: a Redis password is 16/.test(pwErr), 'a short hub password is refused next to its field', pwErr);
  await page.fill('[name="cluster.hub"]', '192.0.2.20:6380');
  await page.fill('[name="cluster.hub-password"]', 'node-password-0123456789');
  await page.fill('[name="cluster.hub-ca"]', hubCa);
  await submit(page, 'Save and apply');
  st = settings();
  ok(st['cluster.role'] === 'node' && st['cluster.hub'] === '192.0.2.20:6380', 'node: the settings are saved', JSON.stringify(st));
  ok(secrets()['cluster-hub-password'] === 'node-password-0123456789' && !/node-password/.test(read('data/etc/settings.conf')),
     'the hub password is a secret, not a setting');
  ok(!/node-password/.test(await page.content()), 'the page never shows the hub password back');
  ok(/redis = 192\.0\.2\.20:6380\n/.test(read('data/pullbox/pullbox.conf')) && !fs.existsSync(file('data/etc/redis.conf')),
     'pullbox.conf uses the hub; redis.conf is gone');
  ok(read('data/pullbox/pullbox.conf').includes(`\nredis-tls = on\nredis-tls-fingerprint = ${hubCa}\n`),
     'pullbox.conf: TLS to the hub, its CA pinned by the fingerprint from the hub\'s page');

  await page.check('#role-standalone');
  await submit(page, 'Save and apply');
  ok(settings()['cluster.role'] === 'standalone' && !/redis/.test(read('data/pullbox/pullbox.conf')), 'standalone again');
}

// A login from node at addr: its session cookie, or null.
// (A cookie the login page set is sent back: none is expected, but the test
// then also runs against a wizard that keeps sessions before login.)
const jarOf = (res) => { const c = cookieFrom(res, COOKIE); return c ? { Cookie: `${COOKIE}=${c}` } : {}; };

async function login(addr, password = PASSWORD) {
  const first = await request({ path: '/login', localAddress: addr });
  const r = await request({ method: 'POST', path: '/login', localAddress: addr,
                            body: form({ csrf: csrfFrom(first.body), password }),
                            headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE, ...jarOf(first) } });
  return r.status === 303 && r.headers.location === '/network' ? cookieFrom(r, COOKIE) : null;
}

// n wrong passwords from addr all at once: how many were checked (403) and
// how many refused before hashing (429).
async function parallelGuesses(addr, n) {
  const first = await request({ path: '/login', localAddress: addr });
  const csrf = csrfFrom(first.body);
  const codes = (await Promise.all(Array.from({ length: n }, (_, i) => request({
    method: 'POST', path: '/login', localAddress: addr, body: form({ csrf, password: `wrong guess ${i}` }),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE, ...jarOf(first) } })))).map((r) => r.status);
  return { codes, hashed: codes.filter((c) => c === 403).length, refused: codes.filter((c) => c === 429).length };
}

async function rateLimit(addr) {
  const first = await request({ path: '/login', localAddress: addr });
  const csrf = csrfFrom(first.body);
  const codes = [];
  let last;
  const post = (pw) => request({ method: 'POST', path: '/login', localAddress: addr,
                                 body: form({ csrf, password: pw }),
                                 headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE, ...jarOf(first) } });
  for (let i = 0; i < 6; i++) {
    last = await post(`wrong password ${i}`);
    codes.push(last.status);
  }
  const right = await post(PASSWORD);
  return { codes, body: last.body, retry: last.headers['retry-after'], rightCode: right.status };
}

function openssl(args, input) {
  return execFileSync('openssl', args, { input, encoding: 'utf8', timeout: 60000 });
}

// The SHA-256 fingerprint of a PEM file, as openssl prints it (AB:12:...).
function fingerprint(pemPath) {
  return openssl(['x509', '-in', pemPath, '-noout', '-fingerprint', '-sha256']).trim().replace(/^.*=/, '');
}

// The CGI's user (www-data) may not enter the TLS folder; the page shows the real
// certificate from the copy the apply service publishes.
async function installedShown(page, pemPath, what) {
  await page.goto(`${BASE}/certificates`);
  const shown = (await page.textContent('section.cert .fingerprint') || '').trim();
  const want = fingerprint(pemPath);
  ok(shown === want && !/cannot be read/.test(await page.textContent('main')),
     `the certificates page shows ${what}'s SHA-256 fingerprint`, `shown ${shown}, want ${want}`);
}

async function certificates(page) {
  await installedShown(page, file('data/pullbox/tls/cert.pem'), 'the installed certificate');
  ok(/Installed certificate/.test(await page.textContent('main')), 'the certificates page shows the installed one');
  const asWww = (...cmd) => spawnSync('setpriv', ['--reuid=www-data', '--regid=www-data', '--clear-groups', ...cmd],
                                      { encoding: 'utf8' });
  const key = asWww('cat', file('data/pullbox/tls/key.pem'));
  ok(key.status !== 0 && !/PRIVATE KEY/.test(key.stdout) && asWww('true').status === 0,
     "the CGI's user (www-data) still cannot open the private key", (key.stderr || '').trim());
  await shot(page, 'certificates');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pullbox-cert-'));
  const p = (n) => path.join(dir, n);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '400',
           '-subj', '/CN=push.example.com', '-addext', 'subjectAltName=DNS:push.example.com',
           '-keyout', p('key.pem'), '-out', p('cert.pem')]);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', p('other.pem')]);

  // a key that does not match: refused, nothing to install
  let before = snapshot();
  await page.setInputFiles('#f-certificate', p('cert.pem'));
  await page.setInputFiles('#f-private-key', p('other.pem'));
  await submit(page, 'Check the certificate');
  ok(/match/.test(await page.textContent('main')) &&
     await page.getByRole('button', { name: 'Install this certificate' }).count() === 0,
     'a key that does not match is refused before anything is installed');
  ok(sameFiles(before, snapshot()).length === 0, '... and nothing changed');

  await page.goto(`${BASE}/certificates`);
  await page.setInputFiles('#f-certificate', p('cert.pem'));
  await page.setInputFiles('#f-private-key', p('key.pem'));
  await submit(page, 'Check the certificate');
  ok(/push\.example\.com/.test(await page.textContent('section.cert')), 'the check shows the uploaded certificate');
  await shot(page, 'certificates-check');
  ok(read('data/pullbox/tls/cert.pem') !== fs.readFileSync(p('cert.pem'), 'utf8'), 'the check alone installs nothing');
  await submit(page, 'Install this certificate');
  ok(/Applied/.test(await page.textContent('section.result')), 'the install is applied', await page.textContent('main'));
  ok(read('data/pullbox/tls/cert.pem').trim() === fs.readFileSync(p('cert.pem'), 'utf8').trim(),
     'the uploaded certificate is installed');
  // lighttpd restarts for the new certificate: wait until it serves it
  let served = '';
  const end = Date.now() + 60000;
  while (Date.now() < end && !/push\.example\.com/.test(served)) {
    await sleep(500);
    try {
      served = execFileSync('openssl', ['s_client', '-connect', '127.0.0.1:443', '-servername', 'push.example.com'],
                            { input: '', encoding: 'utf8', timeout: 10000, stdio: ['pipe', 'pipe', 'ignore'] });
    } catch { served = ''; }
  }
  ok(/CN\s*=\s*push\.example\.com/.test(served), 'lighttpd serves the new certificate');
  await installedShown(page, p('cert.pem'), 'the uploaded certificate');
  fs.rmSync(dir, { recursive: true, force: true });
}

async function bitrix(page) {
  await page.goto(`${BASE}/bitrix`);
  await shot(page, 'bitrix');
  const table = await page.textContent('#cpull-table');
  const block = await page.textContent('#settings-php');
  const calls = await page.textContent('#php-calls');
  const st = settings();
  const sec = secrets();
  ok(table.includes(sec['signature-key']) && table.includes('push.example.com'), 'the table holds the key and the public name');
  const php = path.join(root, 'settings-check.php');
  fs.writeFileSync(php, `<?php return [\n${block}\n];\n`);
  let lint = '';
  try { lint = execFileSync('php', ['-l', php], { encoding: 'utf8', timeout: 60000 }); } catch (e) { lint = String(e.stdout) + e.stderr; }
  ok(/No syntax errors/.test(lint), 'the .settings.php block passes php -l', lint + '\n' + block);
  let v = {};
  try {
    v = JSON.parse(execFileSync('php', ['-r', 'echo json_encode((include $argv[1])["pull"]["value"]);', php],
                                { encoding: 'utf8', timeout: 60000 }));
  } catch (e) { note(String(e)); }
  ok(v.signature_key === sec['signature-key'], 'signature_key is the appliance\'s key', JSON.stringify(v));
  ok(v.signature_algo === st['site.signature-algorithm'], 'signature_algo matches the settings');
  ok(String(v.nginx_version) === st['site.version'], 'nginx_version matches the settings');
  ok(v.path_to_publish === 'http://192.0.2.10:8895/bitrix/pub/', 'path_to_publish is the static address on 8895', v.path_to_publish);
  ok(v.path_to_modern_listener === 'http://push.example.com:8893/bitrix/sub/' &&
     v.path_to_modern_listener_secure === 'https://push.example.com:8894/bitrix/sub/' &&
     v.path_to_websocket === 'ws://push.example.com:8893/bitrix/subws/' &&
     v.path_to_websocket_secure === 'wss://push.example.com:8894/bitrix/subws/',
     'the listener and websocket URLs use the public name and 8893/8894', JSON.stringify(v));
  ok(v.nginx === 'Y', 'the queue server is enabled (nginx = Y)');
  const callsFile = path.join(root, 'calls-check.php');
  fs.writeFileSync(callsFile, `<?php\n${calls}\n`);
  let lint2 = '';
  try { lint2 = execFileSync('php', ['-l', callsFile], { encoding: 'utf8', timeout: 60000 }); } catch (e) { lint2 = String(e.stdout); }
  ok(/No syntax errors/.test(lint2) && calls.includes(sec['signature-key']), 'the PHP calls parse and carry the key', lint2);
}

async function backup(page) {
  await page.goto(`${BASE}/backup`);
  await shot(page, 'backup');
  await page.fill('form[action="/backup/download"] [name="passphrase"]', 'a backup passphrase');
  await page.fill('form[action="/backup/download"] [name="passphrase2"]', 'a backup passphrase');
  const waiting = page.waitForEvent('download', { timeout: 60000 }).catch(() => null);
  await page.getByRole('button', { name: 'Download the backup' }).click();
  const download = await waiting;
  if (!ok(download, 'the backup page answers with a download', await page.textContent('main').catch(() => '')))
    return;
  const saved = path.join(root, 'backup.pbk');
  await download.saveAs(saved);
  const data = fs.readFileSync(saved);
  ok(data.subarray(0, 17).toString() === 'PULLBOX-BACKUP 1\n' && data.length > 100,
     `the backup downloads (${data.length} bytes, ${download.suggestedFilename()})`);
  ok(!data.includes(Buffer.from(secrets()['signature-key'])), 'the backup does not hold the key in clear');

  await page.goto(`${BASE}/backup`);
  await page.setInputFiles('#f-backup', saved);
  await page.fill('form[action="/backup/open"] [name="passphrase"]', 'not the passphrase');
  await submit(page, 'Open the backup');
  ok(await page.locator('#backup-error').count() === 1, 'a wrong passphrase is refused next to the file');
  await page.setInputFiles('#f-backup', saved);
  await page.fill('form[action="/backup/open"] [name="passphrase"]', 'a backup passphrase');
  await submit(page, 'Open the backup');
  const contents = await page.textContent('#backup-contents').catch(() => '');
  ok(/settings\.conf/.test(contents) && /secrets\.conf/.test(contents), 'the opened backup shows what it holds', contents);
  await shot(page, 'backup-open');
  await submit(page, 'Restore this backup');
  ok(/Applied/.test(await page.textContent('section.result')), 'the restore is applied', await page.textContent('main'));
  // the restored certificate makes the apply service restart lighttpd 1 s after answering
  await sleep(2500);
  ok(await waitFor443(), 'lighttpd serves again after the restore');
}

async function hostile(sid) {
  const site = await request({ path: '/site', headers: { Cookie: `${COOKIE}=${sid}` } });
  const csrf = csrfFrom(site.body);
  ok(site.status === 200 && csrf, 'node reads the site page with the browser\'s session');
  const st = settings();
  const fields = { 'site.public-name': st['site.public-name'], 'site.publishers': st['site.publishers'],
                   'site.version': '5', 'site.signature-algorithm': st['site.signature-algorithm'] };
  const urlenc = { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: `${COOKIE}=${sid}` };
  const before = snapshot();
  const calls0 = readOr('calls.log');

  let r = await request({ method: 'POST', path: '/site', body: form(fields), headers: { ...urlenc, Origin: BASE } });
  ok(r.status === 403 && /no security token/.test(r.body), 'a POST without a CSRF token is refused', r.status + r.body.slice(0, 300));
  r = await request({ method: 'POST', path: '/site', body: form({ ...fields, csrf: 'f'.repeat(64) }), headers: { ...urlenc, Origin: BASE } });
  ok(r.status === 403 && /security token is wrong/.test(r.body), 'a POST with a wrong CSRF token is refused');
  r = await request({ method: 'POST', path: '/site', body: form({ ...fields, csrf }), headers: { ...urlenc, Origin: 'https://evil.example' } });
  ok(r.status === 403 && /another site/.test(r.body), 'a POST from another origin is refused');
  r = await request({ method: 'POST', path: '/site', body: form({ ...fields, csrf }), headers: urlenc });
  ok(r.status === 403, 'a POST that says nothing of its origin is refused');
  r = await request({ method: 'POST', path: '/site', body: form({ ...fields, csrf }),
                      headers: { ...urlenc, Origin: 'null', 'Sec-Fetch-Site': 'cross-site' } });
  ok(r.status === 403, 'Origin null from a cross-site form is refused');

  const post = (p, f) => request({ method: 'POST', path: p, body: form({ ...f, csrf }), headers: { ...urlenc, Origin: BASE } });
  const net = { hostname: 'wizard-test', 'network.mode': 'static', 'network.address': '192.0.2.10/24',
                'network.gateway': '192.0.2.1', 'network.dns': '192.0.2.53', 'network.ntp': 'ntp.example.org' };
  const cases = [
    ['/network', { ...net, hostname: ';$(reboot)' }, 'hostname', 'shell metacharacters in the host name'],
    ['/network', { ...net, hostname: 'box\nsite.publishers = any' }, 'hostname', 'a newline in the host name'],
    ['/network', { ...net, 'network.dns': '192.0.2.53`reboot`' }, 'network.dns', 'backquotes in the DNS servers'],
    ['/site', { ...fields, 'site.publishers': '192.0.2.20\nfirewall.admin = any' }, 'site.publishers', 'a newline in the publishers'],
    ['/site', { ...fields, 'site.public-name': 'a'.repeat(2000) }, 'site.public-name', 'a 2000-character public name'],
    ['/site', { ...fields, 'site.signature-algorithm': 'md5;reboot' }, 'site.signature-algorithm', 'a value outside the choices'],
    ['/firewall', { 'firewall.subscribe': 'any; iptables -F', 'firewall.admin': '127.0.0.0/8' }, 'firewall.subscribe', 'a command in a network list'],
    ['/keys', { 'key.grace-period': '$(reboot)' }, 'key.grace-period', 'a command in the grace period'],
    ['/cluster', { 'cluster.role': 'hub', 'cluster.hub': '', 'cluster.peers': 'any; iptables -F' }, 'cluster.peers', 'a command in the cluster peers'],
    ['/cluster', { 'cluster.role': 'node', 'cluster.hub': '192.0.2.20', 'cluster.peers': '', 'cluster.hub-password': "x'$(reboot)0123456789" },
     'cluster.hub-password', 'a command in the hub password'],
  ];
  for (const [p, f, field, what] of cases) {
    r = await post(p, f);
    const m = new RegExp(`id="${field.replace('.', '\\.')}-error"[^>]*>([^<]*)<`).exec(r.body);
    ok(r.status === 400 && m && m[1].length > 10, `${what} is refused with a message next to the field`,
       `${r.status} ${m ? m[1] : r.body.slice(0, 600)}`);
  }
  ok(!/reboot|poweroff/.test(readOr('calls.log').slice(calls0.length)), 'nothing was rebooted');

  const trav = multipart({ csrf }, [{ name: 'certificate', filename: '../../etc/passwd', content: 'x' },
                                    { name: 'private-key', filename: 'key.pem', content: 'y' }]);
  r = await request({ method: 'POST', path: '/certificates/check', body: trav.body,
                      headers: { 'Content-Type': trav.type, Cookie: `${COOKIE}=${sid}`, Origin: BASE } });
  ok(r.status === 400 && /file name of certificate is refused/.test(r.body), 'a path traversal file name is refused', r.body.slice(0, 400));
  ok(!fs.existsSync(file('etc/passwd')) && !fs.existsSync(file('data/etc/passwd')), '... and written nowhere');

  const big = await hugeUpload({ path: '/certificates/check', size: 100 * 1024 * 1024,
                                 headers: { 'Content-Type': 'multipart/form-data; boundary=x', Cookie: `${COOKIE}=${sid}`, Origin: BASE } });
  ok(big.status === 413 && /larger than 1 MiB/.test(big.body), `a 100 MB upload is refused with 413 and says why (after ${big.sent >> 20} MiB sent)`,
     big.body.slice(0, 500));
  const leftovers = fs.readdirSync('/tmp').filter((n) => /^lighttpd-upload-/.test(n))
    .filter((n) => { try { return fs.statSync(path.join('/tmp', n)).size > (1 << 20); } catch { return false; } });
  ok(leftovers.length === 0, '... without being stored', leftovers.join(' '));

  const changed = sameFiles(before, snapshot());
  ok(changed.length === 0, 'after all refused requests every settings file is byte-identical', changed.join(' '));
  ok(settings()['site.version'] === '4', 'the version the refused forms carried was not applied');
}

// Sessions end: a request running across the logout does not bring the
// session back; a password change (here through the apply service, as the
// console sends it) ends every session, the browser's too.
async function sessionsEnd(page) {
  const sid = await login('127.0.0.9');
  ok(!!sid, 'node logs in');
  const jar = { Cookie: `${COOKIE}=${sid}` };
  const site = await request({ path: '/site', headers: jar });
  const csrf = csrfFrom(site.body);
  const st = settings();
  const fields = { 'site.public-name': st['site.public-name'], 'site.publishers': st['site.publishers'],
                   'site.version': st['site.version'], 'site.signature-algorithm': st['site.signature-algorithm'], csrf };
  const sv = (verb) => execFileSync('sv', ['-w', '30', verb, file('var/service/pullbox-apply')], { encoding: 'utf8', timeout: 40000 });
  sv('down');
  // this save waits for the apply service, which is down: a request still running
  const slow = request({ method: 'POST', path: '/site', body: form(fields),
                         headers: { ...jar, 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE } });
  await sleep(1500);
  const out = await request({ method: 'POST', path: '/logout', body: form({ csrf }),
                              headers: { ...jar, 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE } });
  const after = await request({ path: '/network', headers: jar });
  ok(out.status === 303 && after.status === 303 && after.headers.location === '/login',
     'logged out while a save is still running: the cookie leads to the login', `${out.status} ${after.status}`);
  sv('up');
  const slowRes = await slow;
  const later = await request({ path: '/network', headers: jar });
  ok(later.status === 303 && later.headers.location === '/login',
     `once the running save has finished (${slowRes.status}) the old cookie still leads to the login`, String(later.status));

  const sidA = await login('127.0.0.9');
  ok(sidA && (await request({ path: '/network', headers: { Cookie: `${COOKIE}=${sidA}` } })).status === 200,
     'a new login works');
  await page.goto(`${BASE}/status`);
  ok(page.url() === `${BASE}/status`, 'the browser is logged in too');
  const hash = execFileSync('openssl', ['passwd', '-6', 'a new admin password 2'], { encoding: 'utf8' }).trim();
  const res = JSON.parse(approot('submit', root, 'password', `admin-password-hash=${hash}`));
  ok(res.ok, 'the password is changed (as console item 10 does)');
  const gone = await request({ path: '/network', headers: { Cookie: `${COOKIE}=${sidA}` } });
  ok(gone.status === 303 && gone.headers.location === '/login', 'the password change ended the node\'s session');
  await page.goto(`${BASE}/status`);
  ok(page.url() === `${BASE}/login`, '... and the browser\'s', page.url());
  ok(!!(await login('127.0.0.9', 'a new admin password 2')), 'the new password logs in');
  const sessions = stateFiles().filter((n) => /\.session$/.test(n));
  ok(sessions.length >= 1 && sessions.length <= 8, `live session files: ${sessions.length} (at most 8)`);
}

// Many addresses, one wrong password each: past 20 attempts within 5 minutes
// from everywhere the wizard slows everyone down (last, since it then makes
// even the admin wait up to a minute).
async function globalBackoff() {
  let refused = null;
  let tried = 0;
  for (let i = 0; i < 30 && !refused; i++) {
    const addr = `127.0.1.${i + 1}`;
    const first = await request({ path: '/login', localAddress: addr });
    const r = await request({ method: 'POST', path: '/login', localAddress: addr,
                              body: form({ csrf: csrfFrom(first.body), password: 'a guess from many addresses' }),
                              headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE, ...jarOf(first) } });
    tried++;
    if (r.status === 429) refused = r;
  }
  ok(refused && /from all addresses together/.test(refused.body) && Number(refused.headers['retry-after']) >= 1,
     `one wrong password from each of ${tried} addresses: the last is refused by the global limit (429, Retry-After)`,
     refused ? refused.body.slice(0, 300) : 'never refused');
}

let code = 1;
try {
  await main();
} catch (e) {
  ok(false, 'the test ran to its end', e.stack || String(e));
  try { note(execFileSync('tail', ['-n', '30', file('var/log/lighttpd/current')], { encoding: 'utf8' })); } catch {}
} finally {
  if (browser) await browser.close().catch(() => {});
  try { approot('stop', root); } catch (e) { ok(false, 'approot stop', String(e)); }
  code = done();
  if (code === 0) fs.rmSync(root, { recursive: true, force: true });
  else note(`the appliance tree is kept in ${root}`);
}
process.exit(code);
