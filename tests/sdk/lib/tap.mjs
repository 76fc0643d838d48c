// Minimal TAP producer for the SDK tests.
//
//   const t = new Tap('delivery');
//   await t.test('desc', async () => { ...throw on failure... }, { timeout: 10000 });
//   t.ok(cond, 'desc', diag)      // immediate assertion line
//   t.skip('desc', 'reason')
//   await t.done();               // prints 1..N, runs cleanups, exits (0 only if all passed)
//
// Every test gets a timeout so a broken server fails fast instead of hanging;
// a global watchdog (PULLBOX_SDK_FILE_TIMEOUT, default 120 s) ends the file.

const cleanups = [];
let exiting = false;

/** Register a synchronous-or-async cleanup run on done()/fatal exit (servers, clients). */
export function onCleanup(fn) { cleanups.push(fn); }

async function runCleanups() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try { await Promise.race([Promise.resolve().then(fn), sleep(3000)]); } catch (e) { diag(`cleanup error: ${e && e.stack || e}`); }
  }
}

export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

export function diag(text) {
  for (const line of String(text).split('\n')) process.stdout.write(`# ${line}\n`);
}

export class Tap {
  constructor(name) {
    this.name = name;
    this.n = 0;
    this.failed = 0;
    this.failures = [];
    const fileTimeout = Number(process.env.PULLBOX_SDK_FILE_TIMEOUT || 120) * 1000;
    this._watchdog = setTimeout(() => {
      this._line(false, `${name}: whole file finished within ${fileTimeout / 1000}s`, 'watchdog fired');
      this.done();
    }, fileTimeout);
    this._watchdog.unref();
    const fatal = (what) => (err) => {
      this._line(false, `${name}: no ${what}`, err && err.stack || String(err));
      this.done();
    };
    process.on('uncaughtException', fatal('uncaught exception'));
    process.on('unhandledRejection', fatal('unhandled rejection'));
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { diag(`got ${sig}`); this.failed++; this.done(); });
  }

  _line(pass, desc, detail) {
    this.n++;
    if (!pass) { this.failed++; this.failures.push(desc); }
    process.stdout.write(`${pass ? 'ok' : 'not ok'} ${this.n} - ${desc.replace(/\n/g, ' ')}\n`);
    if (!pass && detail) diag(detail);
  }

  ok(cond, desc, detail) { this._line(!!cond, desc, cond ? null : detail); return !!cond; }

  skip(desc, reason) { this.n++; process.stdout.write(`ok ${this.n} - ${desc} # SKIP ${reason}\n`); }

  /** Run fn; it passes unless it throws or exceeds timeout ms. Returns true on pass. */
  async test(desc, fn, { timeout = 15000 } = {}) {
    let timer;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out after ${timeout} ms`)), timeout); }),
      ]);
      this._line(true, desc);
      return true;
    } catch (e) {
      this._line(false, desc, e && (e.tapDetail || e.stack) || String(e));
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async done() {
    if (exiting) return;
    exiting = true;
    await runCleanups();
    process.stdout.write(`1..${this.n}\n`);
    if (this.failed) diag(`${this.failed} of ${this.n} failed: ${this.failures.join(' | ')}`);
    process.exit(this.failed || this.n === 0 ? 1 : 0);
  }
}

/** Throw an Error whose TAP diagnostic is `detail` (multi-line allowed). */
export function fail(message, detail) {
  const e = new Error(message);
  e.tapDetail = detail ? `${message}\n${detail}` : message;
  throw e;
}

/** Poll pred() until truthy or timeout; returns the truthy value or throws. */
export async function waitFor(pred, { timeout = 5000, interval = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) fail(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}
