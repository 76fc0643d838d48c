// The wizard's Update page end to end: a temporary appliance tree
// (tests/lib/approot.py) with real runit, the apply service, the real
// pullbox-update-verify and lighttpd running the CGI on 443, driven by plain
// node requests (exact status codes, bodies a browser never sends) and by
// headless Chromium for the admin's path (upload, install, reboot). Bundles
// are real ones from appliance/scripts/mkbundle.sh with small parts and a
// throw-away key, as tests/integration/09-bundle.py makes them.
//
// The slot installer (pullbox-update) is not in this tree yet: a stand-in
// at usr/sbin/pullbox-update answers `status` as its contract says and
// records every call, so the test sees that a refused bundle never reaches
// it and a good one does, with --allow-downgrade only after the admin
// confirmed. tests/image/boot_test.py installs with the real one.
//
// Runs in private network and mount namespaces (small tmpfs mounts make
// "not enough space" real).
//
//   cd tests/ui && node update.test.mjs        (as root; prints TAP)
import { spawnSync, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { ok, note, done } from './lib/tap.mjs';
import { request, form, multipart, hugeUpload, cookieFrom, csrfFrom } from './lib/http.mjs';

import { REPO, OUT, SHOTS, BASE, COOKIE, PASSWORD, inPrivateNamespace } from './lib/appenv.mjs';

const UPLOAD = 'data/config-ui/upload';
// the version the tools are built with: the verifier compares a bundle's against it
const RUNNING = fs.readFileSync(path.join(REPO, 'VERSION'), 'utf8').trim();
const RUNNING_RE = RUNNING.replace(/\./g, '\\.');

// ---- a private network namespace ----
inPrivateNamespace(['-n', '-m', '--propagation', 'private']);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pullbox-upd-'));
fs.chmodSync(root, 0o755);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pullbox-updb-'));
const approot = (...args) => execFileSync('python3', [path.join(REPO, 'tests/lib/approot.py'), ...args],
                                          { encoding: 'utf8', timeout: 180000, env: { ...process.env, O: OUT } });
const file = (rel) => path.join(root, rel);
const readOr = (rel) => { try { return fs.readFileSync(file(rel), 'utf8'); } catch { return ''; } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const calls = () => readOr('calls.log').split('\n').filter((l) => l.startsWith('pullbox-update install') || l.startsWith('reboot'));
const uploads = () => fs.readdirSync(file(UPLOAD)).sort();

// ---- bundles ----
const SDE = '1700000000';
function mkbundle(name, { version = RUNNING, minFrom = '0.1.0', product = 'pullbox', key = 'key.pem', sizes = [300 * 1024 + 7, 70000, 5] } = {}) {
  const parts = ['system.squashfs', 'vmlinuz', 'initrd.img'].map((p, i) => {
    const f = path.join(work, `${name}.${p}`);
    fs.writeFileSync(f, Buffer.alloc(sizes[i], `${name}:${p}:`));
    return `${p}=${f}`;
  });
  const out = path.join(work, name);
  execFileSync(path.join(REPO, 'appliance/scripts/mkbundle.sh'), [out, product, version, minFrom, path.join(work, key), ...parts],
               { env: { ...process.env, SOURCE_DATE_EPOCH: SDE } });
  return fs.readFileSync(out);
}

function makeBundles() {
  for (const k of ['key.pem', 'other.pem']) {
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', path.join(work, k)]);
    fs.chmodSync(path.join(work, k), 0o600);
  }
  const b = {};
  b.good = mkbundle('good.pbu');
  b.big = mkbundle('big.pbu', { sizes: [3 * 1024 * 1024 + 11, 70000, 5] }); // past the 1 MiB forms
  b.otherKey = mkbundle('otherkey.pbu', { key: 'other.pem' });
  b.otherProduct = mkbundle('product.pbu', { product: 'pushbox' });
  b.older = mkbundle('older.pbu', { version: '0.0.9', minFrom: '0.0.1' });
  b.tampered = Buffer.from(b.good);
  b.tampered[b.tampered.length - 1000] ^= 0x01; // a byte in the last big part
  b.truncated = b.good.subarray(0, b.good.length - 5000);
  return b;
}

// The installer's stand-in (see the header): the contract's status lines,
// and an install that records its arguments and prints the contract's line.
function installStandIn() {
  const log = file('calls.log');
  fs.writeFileSync(file('usr/sbin/pullbox-update'), `#!/bin/sh
case "$1" in
status) printf 'slot=a\\nversion=${RUNNING}\\nother-slot=b\\nother-version=\\nstate=committed\\nmessage=no update installed yet\\n' ;;
install)
	echo "pullbox-update $*" >>'${log}'
	shift; [ "$1" = --allow-downgrade ] && { dg=$1; shift; }
	v=$('${file('usr/sbin/pullbox-update-verify')}' $dg "$1" | sed -n 's/^version=//p') || exit 1
	[ -n "$v" ] || { echo "pullbox-update: refused" >&2; exit 1; }
	echo "installed $v in slot b; reboot to try it" ;;
*) exit 100 ;;
esac
`, { mode: 0o755 });
}

// ---- the admin's session ----
let jar;
async function login() {
  const first = await request({ path: '/login' });
  const r = await request({ method: 'POST', path: '/login', body: form({ csrf: csrfFrom(first.body), password: PASSWORD }),
                            headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE } });
  const c = cookieFrom(r, COOKIE);
  return c ? { Cookie: `${COOKIE}=${c}` } : null;
}

async function page(p = '/update') {
  return request({ path: p, headers: jar });
}

async function upload(content, { csrf, origin = BASE, fieldsFirst = true, filename = 'pullbox-0.2.0.pbu' } = {}) {
  const token = csrf === undefined ? csrfFrom((await page()).body) : csrf;
  const fields = token === null ? {} : { csrf: token };
  const m = fieldsFirst ? multipart(fields, [{ name: 'bundle', filename, content }])
                        : multipartFileFirst(fields, { name: 'bundle', filename, content });
  return request({ method: 'POST', path: '/update/upload', body: m.body,
                   headers: { ...jar, 'Content-Type': m.type, Origin: origin, Connection: 'close' } });
}

function multipartFileFirst(fields, f) {
  const a = multipart({}, [f]);
  const b = multipart(fields, []);
  const boundary = a.type.split('boundary=')[1];
  const tail = b.body.toString('latin1').split(b.type.split('boundary=')[1]).join(boundary);
  const body = Buffer.concat([a.body.subarray(0, a.body.length - (boundary.length + 6)), Buffer.from(tail, 'latin1')]);
  return { body, type: a.type };
}

async function install(downgrade = false) {
  const csrf = csrfFrom((await page()).body);
  const fields = { csrf, ...(downgrade ? { downgrade: 'yes' } : {}) };
  return request({ method: 'POST', path: '/update/install', body: form(fields),
                   headers: { ...jar, 'Content-Type': 'application/x-www-form-urlencoded', Origin: BASE } });
}

const text = (html) => html.replace(/<[^>]+>/g, ' ').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/\s+/g, ' ');

// One bad bundle: uploaded fine, refused at Install naming why, the
// installer never called, the upload removed.
async function refusedAtInstall(name, content, words) {
  const before = calls().length;
  const u = await upload(content);
  const stored = fs.existsSync(file(`${UPLOAD}/upload.pbu`));
  const r = await install();
  const t = text(r.body);
  ok(u.status === 200 && stored && r.status === 422 && t.includes(words) && t.includes('Nothing was installed') &&
     calls().length === before && !fs.existsSync(file(`${UPLOAD}/upload.pbu`)),
     `${name}: refused at Install ("${words}"), the installer never asked, the upload removed`,
     `upload ${u.status} stored ${stored}; install ${r.status}: ${t.slice(0, 600)}\ncalls: ${calls().join('|')}`);
}

// A body announced with its full length but cut off half-way by the client.
function cutUpload(content, csrf) {
  const m = multipart({ csrf }, [{ name: 'bundle', filename: 'cut.pbu', content }]);
  return new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port: 443, rejectUnauthorized: false, servername: 'pullbox' });
    let answer = '';
    sock.on('secureConnect', () => {
      sock.write([`POST /update/upload HTTP/1.1`, 'Host: 127.0.0.1', `Content-Length: ${m.body.length}`,
                  `Content-Type: ${m.type}`, `Origin: ${BASE}`, `Cookie: ${jar.Cookie}`, '', ''].join('\r\n'));
      sock.write(m.body.subarray(0, Math.floor(m.body.length / 2)));
      setTimeout(() => sock.end(), 1500); // half-close: the rest never comes
      setTimeout(() => sock.destroy(), 4000);
    });
    sock.on('data', (d) => { answer += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => resolve(answer));
  });
}

function mountTmpfs(rel, opts) {
  execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'pbupdui', file(rel)]);
}
function umount(rel) {
  spawnSync('umount', [file(rel)]);
}

let browser;

async function main() {
  const b = makeBundles();
  const info = JSON.parse(approot('start', root, '--lighttpd'));
  fs.mkdirSync(file('usr/share/pullbox'), { recursive: true });
  execFileSync('openssl', ['pkey', '-in', path.join(work, 'key.pem'), '-pubout', '-out', file('usr/share/pullbox/update-key.pem')]);
  installStandIn();
  const hash = execFileSync('openssl', ['passwd', '-6', PASSWORD], { encoding: 'utf8' }).trim();
  ok(JSON.parse(approot('submit', root, 'claim', `admin-password-hash=${hash}`)).ok, 'the appliance is claimed');
  let up = false;
  for (let i = 0; i < 200 && !up; i++) { try { await request({ path: '/static/style.css' }); up = true; } catch { await sleep(300); } }
  ok(up, 'lighttpd answers on 443');
  jar = await login();
  ok(!!jar, 'the admin logs in');
  note(`appliance tree in ${root}, bundles in ${work} (setup code ${info.setup_code})`);

  // ---- the page ----
  const p = await page();
  const t = text(p.body);
  ok(p.status === 200 && new RegExp(`Running version ${RUNNING_RE}`).test(t) && /Slot a/.test(t) && /Other slot b: empty/.test(t) &&
     /State committed/.test(t) && /no update installed yet/.test(t) && /<a href="\/update"/.test(p.body),
     'the Update page shows version, slot, the other slot, state and message (from pullbox-update status, through the apply service)',
     t.slice(0, 800));
  ok(/<form method="post" action="\/update\/upload" enctype="multipart\/form-data">\s*<input type="hidden" name="csrf"/.test(p.body),
     'its upload form is multipart and carries the CSRF token first');
  ok((await request({ path: '/update' })).headers.location === '/login', 'without a session /update leads to the login');

  // ---- the upload's own refusals: nothing stored ----
  let r = await upload(b.good, { csrf: null });
  ok(r.status === 403 && /security token must come first/.test(text(r.body)) && uploads().length === 0,
     'an upload without the CSRF token is refused (403) before a byte is stored', `${r.status} ${uploads()}`);
  r = await upload(b.good, { csrf: 'ab'.repeat(32) });
  ok(r.status === 403 && /token is wrong/.test(text(r.body)) && uploads().length === 0,
     'an upload with a wrong token is refused (403), nothing stored', `${r.status} ${uploads()}`);
  r = await upload(b.good, { fieldsFirst: false, csrf: csrfFrom((await page()).body) });
  ok(r.status === 403 && uploads().length === 0, 'a token after the file is refused too (403), nothing stored', `${r.status}`);
  r = await upload(b.good, { origin: 'https://evil.example' });
  ok(r.status === 403 && /another site/.test(text(r.body)) && uploads().length === 0,
     'an upload from another site is refused (403)', `${r.status}`);
  const huge = await hugeUpload({ path: '/update/upload', size: 400 * 1024 * 1024,
                                  headers: { ...jar, Origin: BASE, 'Content-Type': 'multipart/form-data; boundary=x' } });
  ok(huge.status === 413 && huge.sent === 0 && uploads().length === 0,
     'a 400 MiB upload is refused (413) from its Content-Length, before its body is sent', `${huge.status} sent ${huge.sent}`);
  const csrf = csrfFrom((await page()).body);
  const cut = await cutUpload(b.good, csrf);
  await sleep(1000);
  ok(uploads().length === 0, 'an upload cut off half-way leaves nothing (no bundle, no partial file)',
     `${uploads()} / answer: ${text(cut).slice(0, 300)}`);
  mountTmpfs(UPLOAD, `size=256k,mode=0700,uid=${execFileSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).trim()}`);
  r = await upload(b.good);
  const tiny = uploads();
  umount(UPLOAD);
  ok(r.status === 507 && /Not enough space/.test(text(r.body)) && tiny.length === 0,
     'an upload larger than the free space of the upload folder is refused (507) before it is stored', `${r.status} ${tiny} ${text(r.body).slice(0, 300)}`);

  // ---- refusals at Install: the verifier, before the installer ----
  await refusedAtInstall('a bundle signed with another key', b.otherKey, 'signature');
  await refusedAtInstall('a tampered part', b.tampered, 'tampered part');
  await refusedAtInstall('a truncated bundle', b.truncated, 'truncated');
  await refusedAtInstall('a bundle for another product', b.otherProduct, 'product');
  fs.mkdirSync(file('data/update'), { recursive: true });
  mountTmpfs('data/update', 'size=200k,mode=0700');
  await refusedAtInstall('not enough space for the bundle', b.good, 'space');
  umount('data/update');

  // ---- a downgrade: refused, then installed after the explicit confirmation ----
  r = await upload(b.older);
  r = await install();
  let tt = text(r.body);
  ok(r.status === 422 && /downgrade/.test(tt) && new RegExp(`0\\.0\\.9 is older than the running ${RUNNING_RE}`).test(tt) &&
     /Confirm the downgrade/.test(tt) && /name="downgrade" value="yes"/.test(r.body) &&
     calls().length === 0 && fs.existsSync(file(`${UPLOAD}/upload.pbu`)),
     'an older bundle is refused as a downgrade, kept, and a separate confirmation is offered', tt.slice(0, 800));
  r = await install(true);
  tt = text(r.body);
  ok(r.status === 200 && /installed 0\.0\.9 in slot b; reboot to try it/.test(tt) &&
     calls().at(-1) === `pullbox-update install --allow-downgrade ${file(`${UPLOAD}/upload.pbu`)}`,
     'confirmed, it is installed with --allow-downgrade', `${tt.slice(0, 600)}\n${calls().join('|')}`);

  // ---- a bundle past the 1 MiB forms, in the browser: upload, install, reboot ----
  fs.writeFileSync(path.join(work, 'pullbox-0.2.0.pbu'), b.big);
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 900 } });
  const sid = jar.Cookie.split('=')[1];
  await context.addCookies([{ name: COOKIE, value: sid, domain: '127.0.0.1', path: '/', secure: true, httpOnly: true, sameSite: 'Strict' }]);
  const pg = await context.newPage();
  pg.setDefaultTimeout(120000);
  await pg.goto(`${BASE}/update`);
  fs.mkdirSync(SHOTS, { recursive: true });
  await pg.screenshot({ path: path.join(SHOTS, 'wizard-update.png'), fullPage: true });
  await pg.setInputFiles('#f-bundle', path.join(work, 'pullbox-0.2.0.pbu'));
  await Promise.all([pg.waitForNavigation(), pg.getByRole('button', { name: 'Upload' }).click()]);
  const stored = fs.existsSync(file(`${UPLOAD}/upload.pbu`)) && fs.readFileSync(file(`${UPLOAD}/upload.pbu`)).equals(b.big);
  ok(/Uploaded: \d+ bytes/.test(await pg.textContent('main')) && stored,
     `the browser uploads a ${(b.big.length / 1048576).toFixed(1)} MiB bundle (streamed to the wizard's folder, byte for byte)`);
  await Promise.all([pg.waitForNavigation(), pg.getByRole('button', { name: 'Install', exact: true }).click()]);
  const res = await pg.textContent('main');
  ok(new RegExp(`installed ${RUNNING_RE} in slot b; reboot to try it`).test(res) && calls().at(-1) === `pullbox-update install ${file(`${UPLOAD}/upload.pbu`)}`,
     'Install verifies it and asks the installer (no --allow-downgrade)', res.slice(0, 600));
  await pg.screenshot({ path: path.join(SHOTS, 'wizard-update-installed.png'), fullPage: true });
  await Promise.all([pg.waitForNavigation(), pg.getByRole('button', { name: 'Reboot to try it' }).click()]);
  let rebooted = false;
  for (let i = 0; i < 30 && !rebooted; i++) { rebooted = readOr('calls.log').includes('reboot'); if (!rebooted) await sleep(200); }
  ok(rebooted && /restarts/.test(await pg.textContent('main')), '"Reboot to try it" reboots the appliance');
}

let code = 1;
try {
  await main();
} catch (e) {
  ok(false, 'the test ran to its end', e.stack || String(e));
  try { note(execFileSync('tail', ['-n', '30', file('var/log/lighttpd/current')], { encoding: 'utf8' })); } catch {}
  try { note(execFileSync('tail', ['-n', '30', file('var/log/pullbox-apply/current')], { encoding: 'utf8' })); } catch {}
} finally {
  if (browser) await browser.close().catch(() => {});
  umount(UPLOAD);
  umount('data/update');
  try { approot('stop', root); } catch (e) { ok(false, 'approot stop', String(e)); }
  code = done();
  if (code === 0) {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  } else note(`the appliance tree is kept in ${root}`);
}
process.exit(code);
