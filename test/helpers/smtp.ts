// A real SMTP server (smtp-server) on 127.0.0.1 that keeps what it receives
// and can be told to reject messages with a given reply code. Plain text
// only: STARTTLS is disabled, AUTH allowed without TLS.

import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
  /** Envelope sender and recipients (MAIL FROM / RCPT TO). */
  envelopeFrom: string;
  envelopeTo: string[];
  /** The raw message as received. */
  raw: string;
  /** Lower-case header names, unfolded; the first occurrence wins. */
  headers: Record<string, string>;
  subject: string;
  /** The text/plain part (or the body of a single-part text message), decoded. */
  text?: string;
  html?: string;
  /** The user that authenticated, if any. */
  user?: string;
}

export interface SmtpHandle {
  host: string;
  port: number;
  messages: ReceivedMail[];
  /** SMTP sessions opened so far (to check connection reuse). */
  readonly connections: number;
  /** Reject later messages (after DATA) with this SMTP reply code; null accepts again. */
  failWith(code: number | null, message?: string): void;
  close(): Promise<void>;
}

export async function startSmtp(opts: { auth?: { user: string; pass: string } } = {}): Promise<SmtpHandle> {
  const messages: ReceivedMail[] = [];
  let failure: { code: number; message: string } | null = null;
  let connections = 0;

  const server = new SMTPServer({
    authOptional: !opts.auth,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    disableReverseLookup: true,
    // Pooled clients keep idle connections; don't wait 30 s for them on close.
    closeTimeout: 100,
    onConnect(_session, cb) {
      connections += 1;
      cb();
    },
    onAuth(auth, _session, cb) {
      if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.pass) {
        cb(null, { user: auth.username });
      } else {
        cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      }
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (failure) {
          cb(Object.assign(new Error(failure.message), { responseCode: failure.code }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const from = session.envelope.mailFrom;
        messages.push({
          envelopeFrom: from ? from.address : '',
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === 'string' ? session.user : undefined,
          ...parseMessage(raw),
        });
        cb(null);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    messages,
    get connections() {
      return connections;
    },
    failWith(code, message = code && code >= 500 ? 'Mailbox unavailable' : 'Try again later') {
      failure = code === null ? null : { code, message };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Parsed = Pick<ReceivedMail, 'raw' | 'headers' | 'subject' | 'text' | 'html'>;

/** Just enough MIME for tests: headers, single part or one level of multipart, QP and base64. */
export function parseMessage(raw: string): Parsed {
  const { headers, body } = splitPart(raw);
  const out: Parsed = { raw, headers, subject: decodeWords(headers.subject ?? '') };
  const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  const parts = boundary
    ? body.split(`--${boundary}`).slice(1, -1).map((p) => splitPart(p.replace(/^\r\n/, '')))
    : [{ headers, body }];
  for (const part of parts) {
    const type = (part.headers['content-type'] ?? 'text/plain').toLowerCase();
    const text = decodeBody(part.body.replace(/\r\n$/, ''), part.headers['content-transfer-encoding']);
    if (type.startsWith('text/plain')) out.text ??= text;
    else if (type.startsWith('text/html')) out.html ??= text;
  }
  return out;
}

function splitPart(raw: string): { headers: Record<string, string>; body: string } {
  const at = raw.indexOf('\r\n\r\n');
  const head = at === -1 ? raw : raw.slice(0, at);
  const body = at === -1 ? '' : raw.slice(at + 4);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers[name] ??= line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decodeBody(body: string, encoding = '7bit'): string {
  switch (encoding.toLowerCase()) {
    case 'quoted-printable':
      return decodeQp(body);
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    default:
      return body;
  }
}

function decodeQp(text: string): string {
  const escaped = text.replace(/=\r\n/g, '').replace(/%/g, '%25');
  return decodeURIComponent(escaped.replace(/=([0-9A-F]{2})/gi, '%$1'));
}

/** RFC 2047 encoded words (=?UTF-8?Q?...?= / =?UTF-8?B?...?=), as nodemailer writes them. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?[^?]+\?([QB])\?([^?]*)\?=/gi, (_, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : decodeQp(text.replace(/_/g, ' ')),
    );
}
