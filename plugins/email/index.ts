// `email`: sends one message per delivery (one per batch) over SMTP with
// nodemailer. SMTP says itself which failures are worth retrying: the reply
// class (RFC 5321 §4.2.1) is 4yz for transient, 5yz for permanent. The SMTP
// connection is opened through Relay's egress policy; addresses a template
// rendered are checked one by one (./addresses.ts) before anything is sent.

import { createHash } from 'node:crypto';
import { definePlugin, DeliveryError, EgressError, type JsonSchema, type JsonValue } from '../../src/index.js';
import { addressChecker } from './addresses.js';

export interface EmailOptions {
  smtp: {
    host: string;
    port: number;
    secure: boolean;
    requireTLS: boolean;
    pool: boolean;
    auth?: { user: string; pass: string };
    tls?: { rejectUnauthorized: boolean };
  };
  from: string;
  to: string | string[];
  cc?: string | string[];
  bcc?: string | string[];
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
}

const addresses = (description: string, examples: JsonValue[]): JsonSchema => ({
  description,
  examples,
  oneOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
  ],
});

const options: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['smtp', 'from', 'to'],
  anyOf: [
    { type: 'object', required: ['text'] },
    { type: 'object', required: ['html'] },
  ],
  properties: {
    smtp: {
      type: 'object',
      additionalProperties: false,
      required: ['host'],
      description: 'The SMTP server to submit through.',
      examples: [{ host: 'smtp.example.com', port: 587, auth: { user: 'relay', pass: '${SMTP_PASSWORD}' } }],
      properties: {
        host: { type: 'string', minLength: 1, description: 'Server host name or address.', examples: ['smtp.example.com'] },
        port: {
          type: 'integer',
          minimum: 1,
          maximum: 65535,
          default: 587,
          description: 'Server port: 587 for submission with STARTTLS, 465 with `secure: true`, 25 for relay.',
          examples: [587, 465],
        },
        secure: {
          type: 'boolean',
          default: false,
          description: 'TLS from the first byte (port 465). When false, STARTTLS is used if the server offers it.',
          examples: [false, true],
        },
        requireTLS: {
          type: 'boolean',
          default: false,
          description: 'Fail rather than send in clear text when the server does not offer STARTTLS.',
          examples: [true],
        },
        pool: {
          type: 'boolean',
          default: false,
          description:
            'Keep up to 5 connections open and reuse them, for volume (a new connection per message costs a round of handshakes).',
          examples: [true],
        },
        auth: {
          type: 'object',
          additionalProperties: false,
          required: ['user', 'pass'],
          description: 'Credentials for SMTP AUTH; omit for an open relay.',
          examples: [{ user: 'relay', pass: '${SMTP_PASSWORD}' }],
          properties: {
            user: { type: 'string', description: 'User name.', examples: ['relay'] },
            pass: { type: 'string', description: 'Password (use an environment variable).', examples: ['${SMTP_PASSWORD}'] },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          description: 'TLS settings.',
          examples: [{ rejectUnauthorized: false }],
          properties: {
            rejectUnauthorized: {
              type: 'boolean',
              default: true,
              description: 'Verify the server certificate. Only turn off for a test server.',
              examples: [true],
            },
          },
        },
      },
    },
    from: {
      type: 'string',
      minLength: 1,
      description: 'Sender address, optionally with a name (Liquid template; when templated it must render to exactly one address).',
      examples: ['Relay <relay@example.com>'],
    },
    to: addresses(
      'Recipients: a list, or one string of comma-separated addresses (Liquid templates). ' +
        'An item with a template must render to exactly one address (or nothing), else the delivery is dead: list several as several items.',
      [
      'ops@example.com',
        ['ops@example.com', '{{ payload.data.owner.email }}'],
      ],
    ),
    cc: addresses('Copy recipients (Liquid templates; a templated item is one address, as for `to`).', ['audit@example.com']),
    bcc: addresses('Blind copy recipients (Liquid templates; a templated item is one address, as for `to`).', [['archive@example.com']]),
    replyTo: { type: 'string', description: 'Reply-To address (Liquid template; when templated, exactly one address).', examples: ['support@example.com'] },
    subject: {
      type: 'string',
      default: '[relay] {{ event.type }} {{ event.id }}',
      description: 'Subject (Liquid template). In a batch it sees `events`.',
      examples: ['Document {{ payload.data.document.filename }} processed', '{{ events | size }} documents processed'],
    },
    text: {
      type: 'string',
      description: 'Plain-text body (Liquid template). `text`, `html` or both.',
      examples: ['{{ payload.data.document.filename }} was processed at {{ event.receivedAt }}.'],
    },
    html: {
      type: 'string',
      description: 'HTML body (Liquid template; escape payload values with `| escape`).',
      examples: ['<p><b>{{ payload.data.document.filename | escape }}</b> was processed.</p>'],
    },
  },
};

// Without SMTP reply: mistakes in the message or config, the same on every try.
const PERMANENT_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'ECONFIG', 'ENOAUTH', 'EMAXRECIPIENTS']);

interface SmtpError {
  code?: string;
  responseCode?: number;
  response?: string;
  message?: string;
}

export function classifySmtpError(err: unknown): DeliveryError {
  const blocked = EgressError.find(err);
  if (blocked) return blocked;
  const e = (err ?? {}) as SmtpError;
  const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  // 4yz: try later (greylisting, mailbox busy, 421 shutting down). 5yz: rejected
  // for good, except 503 "bad sequence of commands", a session state problem
  // that a fresh connection clears (nodemailer classifies it the same way).
  const retryable = reply !== undefined ? reply < 500 || reply === 503 : !PERMANENT_CODES.has(e.code ?? '');
  const detail = e.response ?? e.message ?? String(err);
  return new DeliveryError(`SMTP ${reply ?? e.code ?? 'error'}: ${detail}`, { retryable, status: reply, cause: err });
}

export const email = definePlugin<EmailOptions>({
  name: 'email',
  description: 'Sends an email over SMTP (one per delivery; one per batch).',
  options,
  templates: ['from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'text', 'html'],
  target: (o) => `smtp:${o.smtp.host}:${o.smtp.port}`,
  async create(config, ctx) {
    // Loaded only when a config has an email action: nodemailer is a large
    // module graph that `relay --help`, `validate` and most servers never use.
    const { default: nodemailer } = await import('nodemailer');
    const { smtp } = config;
    const settings = {
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      requireTLS: smtp.requireTLS,
      ...(smtp.auth ? { auth: { user: smtp.auth.user, pass: smtp.auth.pass } } : {}),
      ...(smtp.tls ? { tls: { rejectUnauthorized: smtp.tls.rejectUnauthorized } } : {}),
      // nodemailer waits minutes by default; a stuck server should fail the
      // attempt (retryable) long before the action timeout piles deliveries up.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      // The connection is Relay's: resolved and checked against the egress policy (nodemailer's own DNS is skipped).
      getSocket(_options: unknown, callback: (err: Error | null, socketOptions?: object) => void) {
        ctx.egress.connect({ host: smtp.host, port: smtp.port, timeout: 10_000 }).then(
          (connection) => callback(null, { connection }),
          (err: Error) => callback(err),
        );
      },
    };
    const transport = smtp.pool
      ? nodemailer.createTransport({ ...settings, pool: true, maxConnections: 5 })
      : nodemailer.createTransport(settings);
    // Failures reach the sender through sendMail; an unheard 'error' event would crash.
    transport.on('error', (err) => ctx.logger.warn({ err }, 'SMTP transport error'));
    ctx.onClose(() => transport.close());
    const check = addressChecker(config);

    return async ({ options: o, event, batch, signal, logger }) => {
      const a = check(o);
      const events = batch ?? [event];
      const ids = events.map((e) => e.id);
      // The same Message-ID on every attempt lets mail systems drop a
      // duplicate when an earlier attempt was accepted but its reply lost.
      const hash = createHash('sha256').update(`${ctx.name}\0${ids.join('\0')}`).digest('hex').slice(0, 32);
      const domain = /@([^>\s]+)/.exec(a.from)?.[1] ?? 'relay.invalid';
      try {
        const info = await transport.sendMail({
          from: a.from,
          to: a.to,
          cc: a.cc,
          bcc: a.bcc,
          replyTo: a.replyTo,
          subject: o.subject,
          text: o.text,
          html: o.html,
          messageId: `<${hash}@${domain}>`,
          headers: { 'X-Relay-Event-Id': event.id, 'X-Relay-Event-Type': event.type },
          signal,
        });
        if (info.rejected.length) {
          // Not an error: retrying would send it again to those who got it.
          logger.warn({ rejected: info.rejected }, 'some recipients were rejected');
        }
        return { info: `${info.messageId} ${info.response}`.slice(0, 200) };
      } catch (err) {
        throw classifySmtpError(err);
      }
    };
  },
});

export default email;
