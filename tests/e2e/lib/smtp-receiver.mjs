// A local SMTP server for the end-to-end tests (npm `smtp-server`) that keeps every message it
// accepts, so a test can read the mail Latch really sent: the envelope, the headers and the
// decoded body. It listens on 127.0.0.1 without TLS (the SMTP connector's "none" mode, which the
// host allows to loopback only; latchd needs LATCH_OUTBOUND_ALLOW_PRIVATE to reach it) and, when
// `auth` is given, wants AUTH PLAIN or LOGIN with exactly those credentials (535 otherwise).
import { SMTPServer } from 'smtp-server';

/** RFC 2047 encoded words (=?UTF-8?B?...?= and ?Q?) in a header value, decoded. */
function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*(?==\?)?/g, (_, charset, enc, text) => {
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g,
        (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return new TextDecoder(charset.toLowerCase()).decode(bytes);
  });
}

/** Headers of a MIME entity: a Map of lower-case name → unfolded value (the first one). */
function parseHeaders(text) {
  const headers = new Map();
  for (const line of text.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(i + 1).trim());
  }
  return headers;
}

function decodeBody(body, encoding) {
  const enc = (encoding || '7bit').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = Buffer.from(body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g,
      (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return bytes.toString('utf8');
  }
  return body;
}

/** A MIME entity as {headers, contentType, parts: [{contentType, text}]} (leaves only). */
function parseEntity(raw) {
  const cut = raw.indexOf('\r\n\r\n');
  const head = cut < 0 ? raw : raw.slice(0, cut);
  const body = cut < 0 ? '' : raw.slice(cut + 4);
  const headers = parseHeaders(head);
  const contentType = headers.get('content-type') || 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (/^multipart\//i.test(contentType) && boundary) {
    const parts = [];
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      parts.push(...parseEntity(chunk.replace(/^\r\n/, '').replace(/\r\n$/, '')).parts);
    }
    return { headers, contentType, parts };
  }
  return {
    headers,
    contentType,
    parts: [{ contentType, text: decodeBody(body, headers.get('content-transfer-encoding')) }],
  };
}

/**
 * Starts the receiver; resolves {port, host, messages, auth, close(), waitFor(pred), reset()}.
 * Each message: {from, to: [...], raw, headers (Map), subject, contentType, parts, text} where
 * text is every leaf part's decoded text joined.
 */
export async function startSmtpReceiver({ auth = null } = {}) {
  const messages = [];
  const waiters = new Set();
  // refuse: recipients are refused (550) while set; auths: AUTH attempts seen.
  const state = { refuse: false, auths: 0 };
  const server = new SMTPServer({
    secure: false,
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !auth,
    logger: false,
    size: 1 << 20,
    onAuth(a, session, cb) {
      state.auths += 1;
      if (auth && a.username === auth.user && a.password === auth.pass) {
        cb(null, { user: a.username });
        return;
      }
      cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onRcptTo(address, session, cb) {
      if (state.refuse) {
        cb(Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }));
        return;
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const entity = parseEntity(raw);
        const msg = {
          from: session.envelope.mailFrom?.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          headers: entity.headers,
          subject: decodeWords(entity.headers.get('subject') || ''),
          contentType: entity.contentType,
          parts: entity.parts,
          text: entity.parts.map((p) => p.text).join('\n'),
        };
        messages.push(msg);
        for (const w of waiters) w();
        cb();
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.on('error', () => {}); // a client that drops the connection is not the test's failure
  const { port } = server.server.address();
  const receiver = {
    host: '127.0.0.1',
    port,
    auth,
    messages,
    get refuse() { return state.refuse; },
    set refuse(v) { state.refuse = v; },
    get auths() { return state.auths; },
    reset() { messages.length = 0; },
    /** The first message to `to` among those received after the first `after` (default: from now). */
    next(to, { after = messages.length, timeoutMs = 15000 } = {}) {
      return receiver.waitFor((m) => messages.indexOf(m) >= after && m.to.includes(to), timeoutMs);
    },
    /** The 6-digit code in a message's text. */
    code(mail) {
      const m = /\b(\d{6})\b/.exec(mail.text);
      if (!m) throw new Error(`no 6-digit code in ${JSON.stringify(mail.text)}`);
      return m[1];
    },
    /** An SMTP connector config (Logto's keys) that sends here without TLS, with default
     * templates for the code-bearing types. */
    connectorConfig({ templates, fromEmail = 'Latch <noreply@latch.test>' } = {}) {
      return {
        host: '127.0.0.1',
        port,
        auth: auth ? { user: auth.user, pass: auth.pass } : { user: '', pass: '' },
        fromEmail,
        ignoreTLS: true,
        templates: templates || [
          { usageType: 'SignIn', contentType: 'text/plain', subject: 'Sign-in code', content: 'Your sign-in code is {{code}}.' },
          { usageType: 'Register', contentType: 'text/plain', subject: 'Sign-up code', content: 'Your sign-up code is {{code}}.' },
          { usageType: 'ForgotPassword', contentType: 'text/plain', subject: 'Password reset code', content: 'Your password reset code is {{code}}.' },
          { usageType: 'Generic', contentType: 'text/plain', subject: 'Your code', content: 'Your code is {{code}}.' },
        ],
      };
    },
    /** Resolves the first message (already received or to come) that pred accepts. */
    waitFor(pred, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(pred);
          if (!m) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching mail within ${timeoutMs} ms (received: ` +
            `${JSON.stringify(messages.map((m) => ({ to: m.to, subject: m.subject })))})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return receiver;
}
