// A fake Twilio for the end-to-end tests: Programmable Messaging's "create a message" endpoint,
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json, over real TLS with a test CA and a leaf
// certificate for api.twilio.com (lib/fake-tls.mjs). The twilio-sms connector keeps the real
// https://api.twilio.com URL; the tests point the name at this server:
//
//   latchd:   LATCH_OUTBOUND_CONNECT_TO=<fake.connectTo>  LATCH_OUTBOUND_CA_FILE=<fake.caFile>
//             (and LATCH_OUTBOUND_ALLOW_PRIVATE=127.0.0.1/32, since the fake is on loopback)
//   node:     https.request(..., {ca: fake.caCertPem, lookup → 127.0.0.1, port: fake.port})
//
// It behaves like Twilio where Latch can tell (https://www.twilio.com/docs/messaging/api/message-resource):
// HTTP Basic with the Account SID and Auth Token (else 401, error 20003 "Authenticate"); the
// account in the path must be the authenticated one (else 404, error 20404); the body must be
// application/x-www-form-urlencoded with To in E.164 with its '+' (21604 missing, 21211
// invalid), a MessagingServiceSid of this account (21603 when neither it nor From is given,
// 21705 when unknown), a Body (21602 missing, 21617 over 1600 characters) and RiskCheck, when
// given, `enable` or `disable`; a message is answered 201 with Twilio's message resource (status
// "accepted", as for a Messaging Service sender) and recorded in `messages`. Errors use Twilio's
// shape {code, message, more_info, status}. Switches make each upstream failure happen (see
// `failures`).
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import https from 'node:https';

import { makeTestCertificates, readBody, safeEqual } from './fake-tls.mjs';

/** How long the `slow` failure waits: beyond the connector's 10 s timeout. */
export const SLOW_MS = 12_000;

const BODY_MAX_CHARS = 1600;
const PATH_RE = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;

const NO_FAILURES = Object.freeze({
  unauthorized: false, // every request answers 401, error 20003 (as a revoked Auth Token)
  rateLimited: false, // 429, error 20429 "Too Many Requests"
  unsubscribed: false, // 400, error 21610: the recipient replied STOP
  serverError: false, // 500 with a body that is not JSON
  malformed: false, // 201 with a body that is not JSON
  slow: false, // the answer comes only after SLOW_MS
  hang: false, // no answer ever: the request is held until the client gives up
});

const hex = (n) => randomBytes(n).toString('hex');
const sid = (prefix) => `${prefix}${hex(16)}`;

/** Twilio's error body. */
const twilioError = (status, code, message) => ({
  code,
  message,
  more_info: `https://www.twilio.com/docs/errors/${code}`,
  status,
});

/**
 * Starts the fake on 127.0.0.1 (a free port). Options (each defaults to a fresh random value of
 * Twilio's shape):
 *   accountSid ('AC' + 32 hex), authToken (32 hex), messagingServiceSid ('MG' + 32 hex)
 * Resolves {
 *   port, origin ('https://api.twilio.com'), caFile, caCertPem,
 *   connectTo ('api.twilio.com:443:127.0.0.1:<port>', for LATCH_OUTBOUND_CONNECT_TO),
 *   accountSid, authToken, messagingServiceSid,
 *   connectorConfig(templates?) (a twilio-sms config for this account: Logto's keys),
 *   failures (get/set: see NO_FAILURES; assigning an object turns on what it sets true and
 *             everything else off),
 *   messages ([{sid, accountSid, to, body, messagingServiceSid, riskCheck, at}] accepted, newest
 *            last), messagesTo(to), lastCodeTo(to) (the last 6-digit run in the newest message
 *            to `to`, or undefined), waitForMessage(to, {after, timeoutMs}),
 *   requests ([{method, path, authorization, contentType, body, form}] of every request),
 *   reset() (failures off, messages and requests cleared), stop()
 * }.
 */
export async function startFakeTwilio({
  accountSid = sid('AC'),
  authToken = hex(16),
  messagingServiceSid = sid('MG'),
} = {}) {
  const certs = await makeTestCertificates({ host: 'api.twilio.com', label: 'fake Twilio' });
  const messages = [];
  const requests = [];
  const timers = new Set();
  const held = new Set();
  const waiters = new Set();
  let failures = { ...NO_FAILURES };

  const send = (res, status, body) => {
    const isJson = typeof body !== 'string';
    res.writeHead(status, {
      'content-type': isJson ? 'application/json; charset=utf-8' : 'text/html',
      'twilio-request-id': `RQ${hex(16)}`,
    });
    res.end(isJson ? JSON.stringify(body) : body);
  };

  const authenticated = (req) => {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const [user, ...rest] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
    return safeEqual(user, accountSid) && safeEqual(rest.join(':'), authToken);
  };

  // The checks Twilio makes on a create-message request, in its order; undefined when fine.
  function refusal(form) {
    const to = form.get('To');
    const service = form.get('MessagingServiceSid');
    const body = form.get('Body');
    const risk = form.get('RiskCheck');
    if (!to) return twilioError(400, 21604, "A 'To' phone number is required.");
    if (!/^\+[1-9][0-9]{1,14}$/.test(to)) {
      return twilioError(400, 21211, `Invalid 'To' Phone Number: ${to.slice(0, 6)}XXXXXXX`);
    }
    if (!service && !form.get('From')) return twilioError(400, 21603, "A 'From' phone number is required.");
    if (service && service !== messagingServiceSid) {
      return twilioError(400, 21705, `The Messaging Service Sid ${service} is invalid.`);
    }
    if (!body) return twilioError(400, 21602, 'Message body is required.');
    if ([...body].length > BODY_MAX_CHARS) {
      return twilioError(400, 21617,
        'The concatenated message body exceeds the 1600 character limit.');
    }
    if (risk !== null && risk !== 'enable' && risk !== 'disable') {
      return twilioError(400, 21620, `Invalid RiskCheck value: ${risk}.`);
    }
    return undefined;
  }

  function create(req, res, form) {
    if (failures.unauthorized || !authenticated(req)) {
      return send(res, 401, twilioError(401, 20003, 'Authenticate'));
    }
    const account = PATH_RE.exec(new URL(req.url, 'https://api.twilio.com').pathname)[1];
    if (account !== accountSid) {
      return send(res, 404, twilioError(404, 20404,
        `The requested resource /2010-04-01/Accounts/${account}/Messages.json was not found`));
    }
    if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return send(res, 400, twilioError(400, 21602, 'Message body is required.'));
    }
    if (failures.rateLimited) return send(res, 429, twilioError(429, 20429, 'Too Many Requests'));
    if (failures.serverError) return send(res, 500, '<html><body>Internal Server Error</body></html>');
    const wrong = refusal(form);
    if (wrong) return send(res, wrong.status, wrong);
    if (failures.unsubscribed) {
      return send(res, 400, twilioError(400, 21610, 'Attempt to send to unsubscribed recipient'));
    }
    if (failures.malformed) {
      res.writeHead(201, { 'content-type': 'application/json' });
      return res.end('{"sid": "SM", this is not JSON');
    }
    const now = new Date();
    const message = {
      sid: sid('SM'),
      accountSid: account,
      to: form.get('To'),
      body: form.get('Body'),
      messagingServiceSid: form.get('MessagingServiceSid'),
      riskCheck: form.get('RiskCheck'),
      at: now.getTime(),
    };
    messages.push(message);
    for (const w of waiters) w();
    return send(res, 201, {
      account_sid: account,
      api_version: '2010-04-01',
      body: message.body,
      date_created: now.toUTCString().replace('GMT', '+0000'),
      date_sent: null,
      date_updated: now.toUTCString().replace('GMT', '+0000'),
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: null,
      messaging_service_sid: message.messagingServiceSid,
      num_media: '0',
      num_segments: String(Math.max(1, Math.ceil([...message.body].length / 153))),
      price: null,
      price_unit: 'USD',
      sid: message.sid,
      status: 'accepted',
      subresource_uris: {
        media: `/2010-04-01/Accounts/${account}/Messages/${message.sid}/Media.json`,
      },
      to: message.to,
      uri: `/2010-04-01/Accounts/${account}/Messages/${message.sid}.json`,
    });
  }

  const server = https.createServer({ key: certs.leafKey, cert: certs.leafPem }, async (req, res) => {
    const url = new URL(req.url, 'https://api.twilio.com');
    let body = '';
    try {
      if (req.method === 'POST') body = await readBody(req);
    } catch {
      return send(res, 413, twilioError(413, 20001, 'Request entity too large'));
    }
    const form = new URLSearchParams(body);
    requests.push({
      method: req.method,
      path: url.pathname,
      authorization: req.headers.authorization ?? null,
      contentType: req.headers['content-type'] ?? null,
      host: req.headers.host ?? null,
      body,
      form: Object.fromEntries(form),
    });
    if (!PATH_RE.test(url.pathname)) {
      return send(res, 404, twilioError(404, 20404,
        `The requested resource ${url.pathname} was not found`));
    }
    if (req.method !== 'POST') {
      return send(res, 405, twilioError(405, 20004, 'Method not allowed'));
    }
    if (failures.hang) {
      held.add(res);
      res.on('close', () => held.delete(res));
      return undefined;
    }
    if (failures.slow) {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!res.destroyed) create(req, res, form);
      }, SLOW_MS);
      timers.add(t);
      return undefined;
    }
    return create(req, res, form);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.unref();
  const { port } = server.address();

  const messagesTo = (to) => messages.filter((m) => m.to === to || m.to === `+${to}`);

  return {
    port,
    origin: 'https://api.twilio.com',
    caFile: certs.caFile,
    caCertPem: certs.caCertPem,
    connectTo: `api.twilio.com:443:127.0.0.1:${port}`,
    accountSid,
    authToken,
    messagingServiceSid,
    connectorConfig(templates) {
      return {
        accountSID: accountSid,
        authToken,
        fromMessagingServiceSID: messagingServiceSid,
        ...(templates ? { templates } : {}),
      };
    },
    get failures() {
      return { ...failures };
    },
    set failures(f) {
      const next = { ...NO_FAILURES };
      for (const [k, v] of Object.entries(f ?? {})) {
        if (!(k in NO_FAILURES)) throw new Error(`fake-twilio: unknown failure ${k}`);
        next[k] = Boolean(v);
      }
      failures = next;
    },
    messages,
    requests,
    messagesTo,
    lastCodeTo(to) {
      const list = messagesTo(to);
      const runs = list.length ? list[list.length - 1].body.match(/\b\d{6}\b/g) : null;
      return runs ? runs[runs.length - 1] : undefined;
    },
    /** Resolves the first message to `to` accepted after `after` (ms since the epoch; default:
     * any), waiting up to timeoutMs. */
    waitForMessage(to, { after = 0, timeoutMs = 10_000 } = {}) {
      const find = () => messagesTo(to).find((m) => m.at >= after);
      const found = find();
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = find();
          if (!m) return;
          waiters.delete(check);
          clearTimeout(t);
          timers.delete(t);
          resolve(m);
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          timers.delete(t);
          reject(new Error(`fake-twilio: no message to ${to} within ${timeoutMs} ms`));
        }, timeoutMs);
        timers.add(t);
        waiters.add(check);
      });
    },
    reset() {
      failures = { ...NO_FAILURES };
      messages.length = 0;
      requests.length = 0;
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      waiters.clear();
      for (const res of held) res.destroy();
      held.clear();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
      await rm(certs.dir, { recursive: true, force: true });
    },
  };
}
