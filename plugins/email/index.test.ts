import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { caught, createTestAjv, loadAction, makeBatch, makeEvent } from '../../test/helpers/events.js';
import { startSmtp, type SmtpHandle } from '../../test/helpers/smtp.js';
import { classifySmtpError, email } from './index.js';

let smtp: SmtpHandle;
beforeAll(async () => {
  smtp = await startSmtp();
});
afterEach(() => {
  smtp.messages.length = 0;
  smtp.failWith(null);
});
afterAll(() => smtp.close());

const base = () => ({
  smtp: { host: smtp.host, port: smtp.port },
  from: 'Relay <relay@example.com>',
  to: 'ops@example.com',
  text: '{{ payload.data.document.filename }} was processed.',
});

describe('email options schema', () => {
  const validate = createTestAjv().compile(email.options);

  it('fills defaults', () => {
    const o: Record<string, unknown> = { smtp: { host: 'smtp.example.com' }, from: 'a@x', to: ['b@x'], html: '<p/>' };
    expect(validate(o)).toBe(true);
    expect(o).toMatchObject({ smtp: { host: 'smtp.example.com', port: 587, secure: false, requireTLS: false } });
    expect(o.subject).toBe('[relay] {{ event.type }} {{ event.id }}');
  });

  it('rejects a missing host, recipients or body, and bad shapes', () => {
    expect(validate({ smtp: {}, from: 'a@x', to: 'b@x', text: 't' })).toBe(false);
    expect(validate({ smtp: { host: 'h' }, from: 'a@x', text: 't' })).toBe(false);
    expect(validate({ smtp: { host: 'h' }, from: 'a@x', to: 'b@x' })).toBe(false);
    expect(validate({ smtp: { host: 'h' }, from: 'a@x', to: [], text: 't' })).toBe(false);
    expect(validate({ smtp: { host: 'h', auth: { user: 'u' } }, from: 'a@x', to: 'b@x', text: 't' })).toBe(false);
    expect(validate({ smtp: { host: 'h', port: 70000 }, from: 'a@x', to: 'b@x', text: 't' })).toBe(false);
  });
});

describe('email', () => {
  it('sends the rendered message over SMTP', async () => {
    const action = await loadAction(email, {
      ...base(),
      to: ['ops@example.com', '{{ payload.owner }}'],
      cc: 'audit@example.com',
      subject: 'Processed: {{ payload.data.document.filename }}',
      html: '<p>{{ payload.data.document.filename | escape }}</p>',
    });
    const event = makeEvent({ payload: { owner: 'owner@example.com', data: { document: { filename: 'a<b>.pdf' } } } });
    const result = await action.run(event);

    expect(smtp.messages).toHaveLength(1);
    const [mail] = smtp.messages;
    expect(mail?.envelopeFrom).toBe('relay@example.com');
    expect(mail?.envelopeTo).toEqual(['ops@example.com', 'owner@example.com', 'audit@example.com']);
    expect(mail?.subject).toBe('Processed: a<b>.pdf');
    expect(mail?.headers.to).toBe('ops@example.com, owner@example.com');
    expect(mail?.headers['x-relay-event-id']).toBe(event.id);
    expect(mail?.text).toBe('a<b>.pdf was processed.');
    expect(mail?.html).toBe('<p>a&lt;b&gt;.pdf</p>');
    expect((result as { info?: string }).info).toContain(mail?.headers['message-id']);
  });

  it('keeps the Message-ID across attempts of one delivery', async () => {
    const action = await loadAction(email, base());
    const event = makeEvent();
    await action.run(event, { attempt: 1 });
    await action.run(event, { attempt: 2 });
    await action.run(makeEvent());
    const ids = smtp.messages.map((m) => m.headers['message-id']);
    expect(ids[0]).toMatch(/^<[0-9a-f]{32}@example\.com>$/);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('reuses connections with pool', async () => {
    const before = smtp.connections;
    const action = await loadAction(email, { ...base(), smtp: { host: smtp.host, port: smtp.port, pool: true } });
    for (let i = 0; i < 4; i++) await action.run(makeEvent());
    expect(smtp.messages).toHaveLength(4);
    expect(smtp.connections - before).toBe(1);
  });

  it('authenticates when given credentials', async () => {
    const authed = await startSmtp({ auth: { user: 'relay', pass: 'pw' } });
    try {
      const ok = await loadAction(email, { ...base(), smtp: { host: authed.host, port: authed.port, auth: { user: 'relay', pass: 'pw' } } });
      await ok.run(makeEvent());
      expect(authed.messages[0]?.user).toBe('relay');
      const wrong = await loadAction(email, { ...base(), smtp: { host: authed.host, port: authed.port, auth: { user: 'relay', pass: 'no' } } });
      expect(await caught(() => wrong.run(makeEvent()))).toMatchObject({ retryable: false, status: 535 });
    } finally {
      await authed.close();
    }
  });

  it('sends a batch as one email', async () => {
    const action = await loadAction(email, {
      ...base(),
      subject: '{{ events | size }} documents processed',
      text: '{% for e in events %}{{ e.payload.data.document.filename }}\n{% endfor %}',
    });
    await action.run(makeBatch(3, (i) => ({ payload: { data: { document: { filename: `f${i}.pdf` } } } })));
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]?.subject).toBe('3 documents processed');
    expect(smtp.messages[0]?.text).toBe('f0.pdf\r\nf1.pdf\r\nf2.pdf');
  });

  it('treats a 5xx reply as permanent and a 4xx reply as retryable', async () => {
    const action = await loadAction(email, base());
    smtp.failWith(550, 'Mailbox unavailable');
    const permanent = await caught(() => action.run(makeEvent()));
    expect(permanent).toBeInstanceOf(DeliveryError);
    expect(permanent).toMatchObject({ retryable: false, status: 550, message: expect.stringContaining('Mailbox unavailable') });

    smtp.failWith(451, 'Try again later');
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: true, status: 451 });
    expect(smtp.messages).toHaveLength(0);
  });

  it('treats a refused connection and a silent server as retryable', async () => {
    const silent: Server = createServer(() => {}); // accepts, never greets
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const hanging = await loadAction(email, { ...base(), smtp: { host: '127.0.0.1', port } });
      const ctl = new AbortController();
      setTimeout(() => ctl.abort(), 100);
      const started = Date.now();
      expect(await caught(() => hanging.run(makeEvent(), { signal: ctl.signal }))).toMatchObject({ retryable: true });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      silent.close();
    }
    const refused = await loadAction(email, { ...base(), smtp: { host: '127.0.0.1', port } });
    expect(await caught(() => refused.run(makeEvent()))).toMatchObject({ retryable: true });
  });

  it('classifies errors without a reply code by their nodemailer code', () => {
    expect(classifySmtpError({ code: 'ECONNECTION', message: 'closed' }).retryable).toBe(true);
    expect(classifySmtpError({ code: 'ETIMEDOUT', message: 'Greeting never received' }).retryable).toBe(true);
    expect(classifySmtpError({ code: 'EENVELOPE', message: 'No recipients defined' }).retryable).toBe(false);
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 452 }).retryable).toBe(true);
    expect(classifySmtpError({ code: 'EPROTOCOL', responseCode: 503 }).retryable).toBe(true);
    expect(classifySmtpError(new Error('boom')).retryable).toBe(true);
  });

  describe('addresses from templates', () => {
    const dead = async (options: Record<string, unknown>, payload: Record<string, unknown>) => {
      const err = await caught(async () => (await loadAction(email, { ...base(), ...options })).run(makeEvent({ payload })));
      expect(err).toBeInstanceOf(DeliveryError);
      expect(err).toMatchObject({ retryable: false });
      return (err as Error).message;
    };

    it('refuses a list smuggled into one templated recipient, and sends nothing', async () => {
      expect(await dead({ to: '{{ payload.owner }}' }, { owner: 'owner@example.com, everyone@example.com' })).toBe(
        'to: "owner@example.com, everyone@example.com" is 2 addresses; a templated item takes exactly one (list several addresses as several items)',
      );
      expect(await dead({ to: ['ops@example.com', '{{ payload.owner }}'] }, { owner: 'a@example.com; b@example.com' })).toMatch(/^to\[1\]: .* is 2 addresses/);
      expect(await dead({ cc: '{{ payload.owner }}' }, { owner: 'team: a@example.com, b@example.com;' })).toMatch(/^cc: .*address group/);
      expect(smtp.messages).toHaveLength(0);
    });

    it('refuses a line break (header injection) and what is not an address', async () => {
      expect(await dead({ to: '{{ payload.owner }}' }, { owner: 'owner@example.com\r\nBcc: all@example.com' })).toMatch(/^to: .*control character/);
      expect(await dead({ replyTo: '{{ payload.reply }}' }, { reply: 'not an address' })).toMatch(/^replyTo: "not an address" is not an email address/);
      expect(await dead({ from: '{{ payload.name }} <relay@example.com>' }, { name: 'Eve <eve@example.com>,' })).toMatch(/^from: .* is 2 addresses/);
      expect(smtp.messages).toHaveLength(0);
    });

    it('sends one templated address per item, leaves out an empty one, and keeps a written-out list as is', async () => {
      const action = await loadAction(email, {
        ...base(),
        from: '{{ payload.name }} <relay@example.com>',
        to: ['ops@example.com, audit@example.com', '{{ payload.owner }}'],
        cc: '{{ payload.missing }}',
      });
      await action.run(makeEvent({ payload: { name: 'Docs Bot', owner: 'Owner <owner@example.com>' } }));
      const [mail] = smtp.messages;
      expect(mail?.envelopeTo).toEqual(['ops@example.com', 'audit@example.com', 'owner@example.com']);
      expect(mail?.headers.from).toBe('Docs Bot <relay@example.com>');
      expect(mail?.headers).not.toHaveProperty('cc');
    });
  });
});
