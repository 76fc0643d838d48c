// Plain HTTP(S) requests to the wizard from node, outside the browser: for
// what a browser would never send (no CSRF token, a hostile file name, a
// 100 MB body) and to read status codes and headers exactly.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';

const TIMEOUT_MS = 60000;

// request({ method, path, headers, body, localAddress, scheme }) ->
// { status, headers, body } without following redirects.
export function request({ method = 'GET', path = '/', headers = {}, body, localAddress,
                          scheme = 'https', host = '127.0.0.1' }) {
  const mod = scheme === 'https' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request({
      host, port: scheme === 'https' ? 443 : 80, method, path, localAddress,
      rejectUnauthorized: false,
      headers: { Host: host, ...headers, ...(body !== undefined ? { 'Content-Length': Buffer.byteLength(body) } : {}) },
      timeout: TIMEOUT_MS,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                    body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path} in ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// A urlencoded form body.
export function form(fields) {
  return new URLSearchParams(fields).toString();
}

// A multipart/form-data body: fields { name: value } and files
// [{ name, filename, content }].
export function multipart(fields, files) {
  const boundary = '----pullboxtest' + Math.random().toString(16).slice(2);
  const parts = [];
  for (const [k, v] of Object.entries(fields))
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  for (const f of files)
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.name}"; ` +
                           `filename="${f.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
               Buffer.from(f.content), Buffer.from('\r\n'));
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

// Announces a body of `size` bytes and waits for the server to judge the
// headers; only if it has not answered within a few seconds does it start
// sending the body in 1 MiB chunks (a server that answers after reading
// would then be caught storing it). Resolves { status, body, sent }: status
// 0 if the server closed without an answer.
export function hugeUpload({ path, headers = {}, size, host = '127.0.0.1', patienceMs = 5000 }) {
  return new Promise((resolve) => {
    const sock = tls.connect({ host, port: 443, rejectUnauthorized: false, servername: 'pullbox' });
    let answer = '';
    let sent = 0;
    let finished = false;
    let pumpTimer;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(pumpTimer);
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(answer);
      resolve({ status: m ? Number(m[1]) : 0, body: answer, sent });
    };
    const timer = setTimeout(finish, TIMEOUT_MS);
    const chunk = Buffer.alloc(1 << 20, 0x41);
    const pump = () => {
      while (!finished && sent < size) {
        sent += chunk.length;
        if (!sock.write(chunk)) { sock.once('drain', pump); return; }
      }
    };
    sock.on('secureConnect', () => {
      const head = [`POST ${path} HTTP/1.1`, `Host: ${host}`, `Content-Length: ${size}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Connection: close', '', ''].join('\r\n');
      sock.write(head);
      pumpTimer = setTimeout(pump, patienceMs);
    });
    sock.on('data', (d) => {
      answer += d.toString('latin1');
      clearTimeout(pumpTimer);
      if (/\r\n\r\n/.test(answer)) setTimeout(finish, 500);
    });
    sock.on('error', finish);
    sock.on('close', finish);
  });
}

// The value of cookie `name` from a response's Set-Cookie headers.
export function cookieFrom(res, name) {
  for (const c of res.headers['set-cookie'] || []) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m) return m[1];
  }
  return null;
}

// The CSRF token of the first form on a page.
export function csrfFrom(html) {
  const m = /name="csrf" value="([0-9a-f]+)"/.exec(html);
  return m ? m[1] : null;
}
