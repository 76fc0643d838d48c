// What the Bitrix side (PHP module `pull`) does, re-done in Node for the tests:
// channel ids, signatures, the pull.config.get object, a fake b24 REST object,
// and publishing in the three formats PHP uses (docs/protocol.md §3, §4, §5.3).

import crypto from 'node:crypto';
import { $root } from '../node_modules/@bitrix24/b24jssdk/dist/esm/pullClient/protobuf/model.mjs';

export const PB = $root;
export const REVISION_WEB = 19;

export const randHex = (bytes = 16) => crypto.randomBytes(bytes).toString('hex');

/** hex HMAC of value with the server's signature key (Bitrix Signer without salt). */
export function sign(value, key, algo = 'sha1') {
  return crypto.createHmac(algo, key).update(value).digest('hex');
}

let nextUserId = 100 + Math.floor(Math.random() * 1000);
/** A user with fresh private/public channel ids. */
export function makeUser(userId = nextUserId++) {
  return { userId, priv: randHex(), pub: randHex() };
}

export function isoIn(seconds) { return new Date(Date.now() + seconds * 1000).toISOString(); }

function b64url(buf) { return Buffer.from(buf).toString('base64url'); }

/** HS256 JWT like Bitrix\Main\Web\JWT::encode. */
export function makeJwt(claims, key) {
  const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'HS256' }));
  const body = b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', key).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** The signed forms (PROTOCOL §3). */
export function signedPrivate(user, version, key, algo) {
  if (version <= 3) return `${user.priv}.${sign(user.priv, key, algo)}`;
  return `${user.priv}:${user.pub}.${sign(`${user.priv}:${user.pub}`, key, algo)}`;
}
export function signedShared(shared, key, algo) { return `${shared}.${sign(shared, key, algo)}`; }
export function publicSignature(user, key, algo) { return sign(`public:${user.pub}`, key, algo); }
export function publicChannelEntry(user, key, algo) {
  return { user_id: user.userId, public_id: user.pub, signature: publicSignature(user, key, algo),
    start: isoIn(-60), end: isoIn(43205) };
}

/**
 * The object pull.config.get returns (Bitrix\Pull\Config::get), pointed at `base`
 * (the server's subscribe side, or a proxy in front of it).
 *   version: 3 | 4 | 5; transport: 'ws' | 'lp'; user: makeUser(); shared: 32-hex id
 *   publicUsers: other users to put into publicChannels (V4 client publishing)
 *   overrides: { privateId, sharedId } to inject bad signatures
 */
export function buildConfig({ version, transport = 'ws', base, publishBase = base, user, shared, key, algo = 'sha1',
  publicUsers = [], overrides = {}, jwtClaims = {} }) {
  const host = base.replace(/^http:\/\//, '');
  const pubHost = publishBase.replace(/^http:\/\//, '');
  const config = {
    server: {
      version,
      server_enabled: true,
      mode: 'personal',
      long_polling: `http://${host}/bitrix/sub/`,
      long_pooling_secure: `https://${host}/bitrix/sub/`,
      websocket_enabled: transport === 'ws',
      websocket: `ws://${host}/bitrix/subws/`,
      websocket_secure: `wss://${host}/bitrix/subws/`,
      publish_enabled: version >= 4,
      publish: `http://${pubHost}/bitrix/rest/`,
      publish_secure: `https://${pubHost}/bitrix/rest/`,
      config_timestamp: 0,
    },
    api: { revision_web: REVISION_WEB, revision_mobile: 3 },
    channels: {
      private: {
        id: overrides.privateId || signedPrivate(user, version, key, algo),
        start: isoIn(-60), end: isoIn(43205), type: 'private',
      },
      shared: { id: overrides.sharedId || signedShared(shared, key, algo), start: isoIn(-60), end: isoIn(43205), type: 'shared' },
    },
    publicChannels: {},
  };
  if (version >= 4) {
    config.channels.private.public_id = `${user.pub}.${publicSignature(user, key, algo)}`;
    for (const u of [user, ...publicUsers]) config.publicChannels[u.userId] = publicChannelEntry(u, key, algo);
  }
  if (version >= 5) {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + 43200;
    config.jwt = makeJwt({ iss: 'pullbox-test-host', iat, exp, sub: String(user.userId),
      chan: `${shared},${user.priv},${user.pub}`, ...jwtClaims }, key);
    config.exp = exp;
  }
  return config;
}

/**
 * Fake b24 REST object (CLIENT.md §4). configFor() returns the pull.config.get result;
 * publicList maps userId -> user (for pull.channel.public.list).
 */
export function fakeB24({ configFor, users = {}, key, algo = 'sha1' } = {}) {
  const calls = [];
  const wrap = (result) => ({ getData: () => ({ result }) });
  const publicList = (ids) => {
    const out = {};
    for (const id of ids) if (users[id]) out[id] = publicChannelEntry(users[id], key, algo);
    return out;
  };
  return {
    calls,
    actions: { v2: { call: { make: async ({ method, params }) => {
      calls.push({ method, params });
      if (method === 'pull.config.get' || method === 'pull.application.config.get') {
        if (!configFor) throw Object.assign(new Error('no config'), { status: 500 });
        return wrap({ ...structuredClone(configFor()), serverTime: new Date().toISOString() });
      }
      if (method === 'pull.channel.public.list') return wrap(publicList(params.users || []));
      if (method === 'pull.watch.extend') return wrap([]);
      return wrap({});
    } } } },
    callMethod: async (method, params) => {
      calls.push({ method, params });
      if (method === 'pull.channel.public.list') return wrap(publicList(params.users || []));
      return wrap({});
    },
  };
}

/** The JSON payload PHP publishes (lib/event.php prepareParameters). */
export function payload(moduleId, command, params) {
  const now = Date.now() / 1000;
  return { module_id: moduleId, command, params,
    extra: { server_time: new Date().toISOString(), server_time_unix: now, server_name: 'pullbox.test',
      revision_web: REVISION_WEB, revision_mobile: 3 } };
}

async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(5000) });
  const buf = Buffer.from(await r.arrayBuffer());
  return { status: r.status, body: buf, text: buf.toString(), headers: r.headers };
}

function check(res, what) {
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
  return res;
}

/** CPullChannel::Send text mode: POST /bitrix/pub/?CHANNEL_ID=a/b raw JSON, Message-Expiry. */
export async function publishText(srv, privIds, body, { expiry = 86400 } = {}) {
  const ids = Array.isArray(privIds) ? privIds : [privIds];
  const data = typeof body === 'string' ? body : JSON.stringify(body);
  return check(await post(`${srv.pubBase}/bitrix/pub/?CHANNEL_ID=${ids.join('/')}`, data,
    { 'Message-Expiry': String(expiry) }), 'text publish');
}

/** ProtobufTransport::sendMessages: one RequestBatch{requests:[incomingMessages]} per call. */
export function encodePublishBatch(messages) {
  const msgs = messages.map(({ privIds, body, expiry = 86400, receivers }) => {
    const b = typeof body === 'string' ? body : JSON.stringify(body);
    let type = '';
    try { const j = JSON.parse(b); type = `${j.module_id}_${j.command}`.replace(/\W/g, ''); } catch { /* opaque */ }
    return PB.IncomingMessage.create({
      receivers: receivers || privIds.map((id) => PB.Receiver.create({ id: Buffer.from(id, 'hex'), isPrivate: true })),
      body: b, expiry, type,
    });
  });
  return PB.RequestBatch.encode(PB.RequestBatch.create({ requests: [{ incomingMessages: { messages: msgs } }] })).finish();
}

export async function publishProtobuf(srv, messages) {
  const bin = encodePublishBatch(messages);
  return check(await post(`${srv.pubBase}/bitrix/pub/?binaryMode=true`, Buffer.from(bin),
    { 'Content-Type': 'application/octet-stream' }), 'protobuf publish');
}

/**
 * JsonRpcTransport: POST /bitrix/api/?signature=<hex hmac(body)> with an array of
 * id-less publish requests. each: { channelList?:[priv], userList?:[int], body, expiry? }
 */
export async function publishRpc(srv, messages, { hostId = 'pullboxtesthost0000000000000000' } = {}) {
  const reqs = messages.map((m) => ({ jsonrpc: '2.0', method: 'publish',
    params: { ...(m.channelList ? { channelList: m.channelList } : {}), ...(m.userList ? { userList: m.userList } : {}),
      body: m.body, expiry: m.expiry ?? 86400, ...(m.user_params ? { user_params: m.user_params } : {}) } }));
  const data = JSON.stringify(reqs);
  const res = check(await post(`${srv.pubBase}/bitrix/api/?signature=${sign(data, srv.signatureKey, srv.algo)}`, data,
    { 'X-HostId': hostId, 'Content-Type': 'application/json' }), 'json-rpc publish');
  if (!res.text.trim()) throw new Error('json-rpc publish: empty response body (PHP requires non-empty JSON)');
  return res;
}

/** Publish `body` to the given private ids in a format valid for `version`. fmt: text|protobuf|rpc-channel|rpc-user */
export async function publishAs(fmt, srv, { privIds, userIds, body }) {
  switch (fmt) {
    case 'text': return publishText(srv, privIds, body);
    case 'protobuf': return publishProtobuf(srv, [{ privIds, body }]);
    case 'rpc-channel': return publishRpc(srv, [{ channelList: privIds, body }]);
    case 'rpc-user': return publishRpc(srv, [{ userList: userIds, body }]);
    default: throw new Error(`unknown format ${fmt}`);
  }
}
