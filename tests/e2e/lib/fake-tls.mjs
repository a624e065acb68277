// What the fake upstreams of the end-to-end tests share (fake-hf.mjs, fake-twilio.mjs): a test CA
// and a leaf certificate for the real host name the connector calls, made at start-up by the
// openssl CLI in a temp dir, so that the fake serves real TLS and latchd verifies it against
// LATCH_OUTBOUND_CA_FILE; plus the small request helpers the fakes and their tests need.
import { execFile } from 'node:child_process';
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Makes, in a new temp dir, a test CA (P-256, two days) and a leaf for `host` (and 127.0.0.1)
 * signed by it. `label` names the CA ("fake Hugging Face"). Resolves {dir, caFile, caCertPem,
 * leafPem, leafKey}; remove `dir` when done (the caller's stop()).
 */
export async function makeTestCertificates({ host, label }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), `latch-fake-${host.replace(/[^a-z0-9]/gi, '-')}-`));
  const f = (name) => path.join(dir, name);
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'),
      '-days', '2', '-subj', `/CN=Latch test CA (${label})`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    await run('openssl', ['req', '-new', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'),
      '-subj', `/CN=${host}`]);
    await writeFile(f('leaf.ext'), [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=DNS:${host},IP:127.0.0.1`,
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid:always',
      '',
    ].join('\n'));
    await run('openssl', ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'),
      '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'), '-days', '2',
      '-sha256', '-extfile', f('leaf.ext')]);
    const [caCertPem, leafPem, leafKey] = await Promise.all(
      ['ca.pem', 'leaf.pem', 'leaf.key'].map((n) => readFile(f(n), 'utf8')));
    return { dir, caFile: f('ca.pem'), caCertPem, leafPem, leafKey };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** base64(SHA-256(SubjectPublicKeyInfo DER)): Chromium's --ignore-certificate-errors-spki-list. */
export function spkiHash(certPem) {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Constant-time string comparison (credentials). */
export const safeEqual = (a, b) => {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
};

/** The request body as text, refused (rejects) beyond `limit` bytes. */
export function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// Resolves any name to 127.0.0.1, as LATCH_OUTBOUND_CONNECT_TO does for libcurl.
const toLoopback = (hostname, opts, cb) => (opts && opts.all
  ? cb(null, [{ address: '127.0.0.1', family: 4 }])
  : cb(null, '127.0.0.1', 4));

/**
 * An https request to https://<host><path> landing on the fake (its port on 127.0.0.1), trusting
 * the fake's test CA unless systemCa (Node's own roots only). Resolves {status, headers, text,
 * json (undefined when the body is not JSON)}; rejects with code TIMEOUT after `timeout` ms.
 */
export function requestFake(fake, host, method, path,
  { headers = {}, body, systemCa = false, timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      method,
      host,
      port: fake.port,
      path,
      ...(systemCa ? {} : { ca: fake.caCertPem }),
      lookup: toLoopback,
      agent: false,
      headers: { ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) },
      timeout,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
