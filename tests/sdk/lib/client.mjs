// The unmodified B24PullClientManager (npm @bitrix24/b24jssdk 2.2.0) in Node, with the
// shims from CLIENT.md §2, plus observation helpers for the tests.
//
// Observation is done only from the outside: WebSocket/XMLHttpRequest subclasses that
// record URLs, close codes and HTTP statuses; a per-instance wrapper around
// onIncomingMessage (installed before start(), so init() binds it) that records the
// message ids the server sent (before the SDK's own de-duplication); subscribe()
// callbacks that collect what the application would see.

// 1) the SDK first: axios inspects window/document at load time (CLIENT.md §2)
const { B24PullClientManager } = await import('@bitrix24/b24jssdk');

// 2) then the runtime shims
const { default: WS } = await import('ws');
const { default: XHR } = await import('xhr2');
const { PB } = await import('./bitrix.mjs');
import { onCleanup, sleep, fail, diag } from './tap.mjs';

/** every WebSocket the SDK opened: {url, opened, closeCode, closeReason, openedAt, closedAt} */
export const wsLog = [];
/** every XHR request: {method, url, status, at, doneAt} */
export const xhrLog = [];

class TrackedWebSocket extends WS {
  constructor(url, ...rest) {
    super(url, ...rest);
    const rec = { url: String(url), opened: false, closeCode: null, closeReason: null, openedAt: null, closedAt: null };
    wsLog.push(rec);
    this.addEventListener('open', () => { rec.opened = true; rec.openedAt = Date.now(); });
    this.addEventListener('close', (e) => { rec.closeCode = e.code; rec.closeReason = String(e.reason); rec.closedAt = Date.now(); });
    this.addEventListener('error', (e) => { rec.error = String(e && e.message || e); });
  }
}

class TrackedXHR extends XHR {
  constructor() {
    super();
    this.addEventListener('readystatechange', () => {
      if (this.readyState === 4 && this._pbRec) { this._pbRec.status = this.status; this._pbRec.doneAt = Date.now(); }
    });
  }
  // xhr2 0.2.1 abort() leaves readyState at OPENED/LOADING, while a browser runs the
  // request-error steps (readyState DONE + readystatechange) and then resets to UNSENT.
  // The SDK's LongPollingConnector depends on that: performRequest() returns early
  // unless readyState is 0 or 4, so with plain xhr2 a long-polling client that was
  // disconnect()ed (reconnect(), restart(), its 60 s request timeout) never polls again.
  abort() {
    const rs = this.readyState;
    super.abort();
    if (rs === 1 || rs === 2 || rs === 3) {
      this._setReadyState(4);
      this.readyState = 0;
    }
  }
  open(method, url, ...rest) {
    this._pbRec = { method, url: String(url), status: null, at: Date.now(), doneAt: null };
    xhrLog.push(this._pbRec);
    return super.open(method, url, ...rest);
  }
}

globalThis.WebSocket = TrackedWebSocket;
globalThis.window = { WebSocket: TrackedWebSocket, addEventListener() {}, removeEventListener() {} };
globalThis.document = { location: { href: 'http://127.0.0.1/' } };
globalThis.XMLHttpRequest = TrackedXHR;

export { B24PullClientManager, PB };

function makeLogger(name, sink) {
  const debug = !!process.env.PULLBOX_SDK_DEBUG;
  const logger = {};
  for (const level of ['log', 'debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']) {
    logger[level] = async (...args) => {
      const msg = level === 'log' ? args.slice(1) : args;
      let text;
      try { text = msg.map((a) => (typeof a === 'string' ? a : JSON.stringify(a, (k, v) => (v instanceof Error ? String(v) : v)))).join(' '); } catch { text = String(msg[0]); }
      sink.push(`[${name}] ${level}: ${text}`);
      if (sink.length > 500) sink.splice(0, sink.length - 400);
      if (debug) process.stderr.write(`# [${name}] ${level}: ${text}\n`);
    };
  }
  return logger;
}

function hex(u8) { return Buffer.from(u8).toString('hex'); }

/** ids of the messages in one transport delivery (what the server sent, before SDK de-dup) */
export function midsOfDelivery(data, jsonRpc) {
  const out = [];
  if (data instanceof ArrayBuffer) {
    const rb = PB.ResponseBatch.decode(new Uint8Array(data));
    for (const r of rb.responses) if (r.outgoingMessages) for (const m of r.outgoingMessages.messages) out.push(hex(m.id));
  } else if (typeof data === 'string' && jsonRpc) {
    if (data === 'ping') return out;
    let j; try { j = JSON.parse(data); } catch { return out; }
    for (const r of Array.isArray(j) ? j : [j]) if (r && r.method === 'incoming.message' && r.params) out.push(String(r.params.mid));
  } else if (typeof data === 'string') {
    for (const f of data.match(/#!NGINXNMS!#(.*?)#!NGINXNME!#/g) || []) {
      try { out.push(String(JSON.parse(f.slice(12, -12)).mid)); } catch { out.push('<unparsable frame>'); }
    }
  }
  return out;
}

export class PullTestClient {
  /**
   * config: pull.config.get object (lib/bitrix.mjs buildConfig); b24: fakeB24()
   * match: substring identifying this client's URLs (private id or jwt)
   */
  constructor({ name, config, b24, userId, siteId = 's1', moduleIds = ['test'], match, params = {} }) {
    this.name = name || `user${userId}`;
    this.config = config;
    this.userId = userId;
    this.match = match;
    this._wsSince = wsLog.length;   // only connections opened after this client was made
    this._xhrSince = xhrLog.length;
    this.received = [];   // {type, moduleId, command, params, extra, at}
    this.rawMids = [];    // mids in transport deliveries, in arrival order
    this.deliveries = 0;
    this.logLines = [];
    this.client = new B24PullClientManager({ b24, userId, siteId, skipStorageInit: true, ...params });
    this.client.setLogger(makeLogger(this.name, this.logLines));
    const jsonRpc = config.server.version >= 5;
    const orig = this.client.onIncomingMessage;
    const self = this;
    // instance-level tap, bound by init() like the original method
    this.client.onIncomingMessage = function tapped(data) {
      self.deliveries++;
      try { self.rawMids.push(...midsOfDelivery(data, jsonRpc)); } catch (e) { self.logLines.push(`[tap] decode error ${e}`); }
      return orig.call(this, data);
    };
    for (const moduleId of moduleIds) {
      for (const type of ['server', 'client']) {
        this.client.subscribe({ type, moduleId, callback: (data) => {
          this.received.push({ type, moduleId, command: data.command, params: data.params, extra: data.extra, at: Date.now() });
        } });
      }
    }
    this._destroyed = false;
    onCleanup(() => this.destroy());
  }

  /** start(config) without REST; resolves once the SDK reports the transport connected. */
  async start({ timeout = 8000, config = this.config } = {}) {
    let timer;
    try {
      await Promise.race([
        this.client.start(structuredClone(config)),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`start() did not resolve in ${timeout} ms`)), timeout); }),
      ]);
    } catch (e) {
      fail(`${this.name}: start failed: ${e && (e.message || JSON.stringify(e))}`, this.debugText());
    } finally { clearTimeout(timer); }
  }

  connected() { return this.client.isConnected(); }

  /** WebSocket records / XHR records whose URL belongs to this client */
  sockets() { return wsLog.slice(this._wsSince).filter((r) => r.url.includes(this.match)); }
  polls() { return xhrLog.slice(this._xhrSince).filter((r) => r.url.includes(this.match) && r.method === 'GET'); }
  posts() { return xhrLog.slice(this._xhrSince).filter((r) => r.method === 'POST' && r.url.includes(this.match)); }

  byType(type) { return this.received.filter((m) => m.type === type); }

  /** wait until pred(received) is truthy */
  async waitFor(pred, { timeout = 5000, what = 'messages' } = {}) {
    const end = Date.now() + timeout;
    while (!pred(this.received)) {
      if (Date.now() > end) fail(`${this.name}: timed out after ${timeout} ms waiting for ${what}`, this.debugText());
      await sleep(20);
    }
  }

  /** wait until at least n messages with command (or any) arrived */
  async waitCount(n, { timeout = 5000, filter = () => true, what } = {}) {
    await this.waitFor((r) => r.filter(filter).length >= n, { timeout, what: what || `${n} messages (have ${this.received.filter(filter).length})` });
    return this.received.filter(filter);
  }

  debugText() {
    const lines = [];
    lines.push(`client ${this.name}: connected=${this.connected()} received=${this.received.length} [${this.received.map((m) => `${m.command}${m.params && m.params.seq !== undefined ? '#' + m.params.seq : ''}`).join(',')}]`);
    lines.push(`raw mids: ${this.rawMids.join(',')}`);
    for (const s of this.sockets().slice(-4)) lines.push(`ws: ${redact(s.url)} opened=${s.opened} close=${s.closeCode} ${s.closeReason || ''} ${s.error || ''}`);
    for (const p of this.polls().slice(-4)) lines.push(`lp: ${redact(p.url)} status=${p.status}`);
    lines.push(...this.logLines.slice(-8));
    return lines.join('\n');
  }

  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    try { this.client.destroy(); } catch (e) { diag(`destroy ${this.name}: ${e}`); }
  }
}

function redact(url) { return url.replace(/(token=)[^&]{20}[^&]*/, '$1<jwt>'); }

export function urlParam(url, name) { return new URL(url).searchParams.get(name); }

/**
 * Build user + config + fake REST + client in one go.
 *   srv: startServer() result; base: where the client connects (default srv.subBase, or a proxy)
 */
export async function newClient(srv, { version, transport, base = srv.subBase, publishBase, user, shared, publicUsers = [],
  users = {}, name, overrides, moduleIds } = {}) {
  const { makeUser, randHex, buildConfig, fakeB24 } = await import('./bitrix.mjs');
  user = user || makeUser();
  shared = shared || randHex();
  const config = buildConfig({ version, transport, base, publishBase, user, shared, key: srv.signatureKey, algo: srv.algo,
    publicUsers, overrides });
  const b24 = fakeB24({ configFor: () => config, users, key: srv.signatureKey, algo: srv.algo });
  const c = new PullTestClient({ name: name || `V${version}-${transport}-u${user.userId}`, config, b24, userId: user.userId,
    match: version >= 5 ? config.jwt : user.priv, moduleIds });
  c.user = user; c.shared = shared; c.b24 = b24; c.version = version; c.transport = transport;
  return c;
}
