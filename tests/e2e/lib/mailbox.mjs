// A mail server for the end-to-end tests: the npm smtp-server package on 127.0.0.1, plain SMTP
// (the SMTP connector's `ignoreTLS`, which Latch allows to loopback only; latchd needs
// LATCH_OUTBOUND_ALLOW_PRIVATE=127.0.0.0/8 to reach it), optionally with AUTH. It keeps every
// message it accepts, so a test reads the code or link Latch really sent.
//
//   const box = await startMailbox({ user: 'u', pass: 'p' });
//   connector config: box.connectorConfig({ templates })
//   const mail = await box.next('ada@example.com');   // {from, to, raw, text}
//   box.code(mail)                                     // the 6-digit code in it
import { SMTPServer } from 'smtp-server';

/** Decodes a quoted-printable body (soft line breaks, =XX escapes) into UTF-8 text. */
function unQuotedPrintable(body) {
  const bytes = [];
  const text = body.replace(/=\r?\n/g, '');
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The decoded body and the headers of a single-part message. */
function parse(raw) {
  const split = raw.indexOf('\r\n\r\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split + 4);
  const headers = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const cte = (headers['content-transfer-encoding'] || '').toLowerCase();
  const text = cte === 'quoted-printable' ? unQuotedPrintable(body)
    : cte === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : body;
  return { headers, text };
}

export async function startMailbox({ user = '', pass = '', refuse = false } = {}) {
  const messages = [];
  const waiters = [];
  const box = { messages, refuse, auths: 0 };
  const server = new SMTPServer({
    secure: false,
    hideSTARTTLS: true,
    authOptional: !user,
    disableReverseLookup: true,
    logger: false,
    size: 1024 * 1024,
    onAuth(auth, session, cb) {
      box.auths += 1;
      if (auth.username === user && auth.password === pass) return cb(null, { user: auth.username });
      return cb(new Error('Invalid username or password'));
    },
    onRcptTo(address, session, cb) {
      if (box.refuse) return cb(new Error('mailbox unavailable'));
      return cb();
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const mail = {
          from: session.envelope.mailFrom && session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          ...parse(raw),
        };
        messages.push(mail);
        for (const w of waiters.splice(0)) w();
        cb();
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  box.port = server.server.address().port;

  /** An SMTP connector config (Logto's keys) that sends here without TLS. */
  box.connectorConfig = ({ templates, fromEmail = 'Latch <noreply@latch.test>' } = {}) => ({
    host: '127.0.0.1',
    port: box.port,
    auth: { user, pass },
    fromEmail,
    ignoreTLS: true,
    templates: templates || [
      { usageType: 'SignIn', contentType: 'text/plain', subject: 'Sign-in code', content: 'Your sign-in code is {{code}}.' },
      { usageType: 'Register', contentType: 'text/plain', subject: 'Sign-up code', content: 'Your sign-up code is {{code}}.' },
      { usageType: 'ForgotPassword', contentType: 'text/plain', subject: 'Password reset code', content: 'Your password reset code is {{code}}.' },
      { usageType: 'Generic', contentType: 'text/plain', subject: 'Your code', content: 'Your code is {{code}}.' },
    ],
  });

  /** The first message to `to` received after `after` messages were (by default: a new one). */
  box.next = async (to, { after = null, timeoutMs = 15000 } = {}) => {
    const start = after ?? messages.length;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.slice(start).find((m) => m.to.includes(to));
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail to ${to} within ${timeoutMs} ms (${messages.length} received)`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  };

  /** The 6-digit code in a message's body. */
  box.code = (mail) => {
    const m = /\b(\d{6})\b/.exec(mail.text);
    if (!m) throw new Error(`no 6-digit code in ${JSON.stringify(mail.text)}`);
    return m[1];
  };

  box.close = () => new Promise((resolve) => server.close(() => resolve()));
  return box;
}
