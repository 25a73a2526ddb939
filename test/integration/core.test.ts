// Issue "Relay core", end to end: Relay as a real process on 127.0.0.1, real
// HTTP receivers standing in for Slack and the forward target, and a real
// SMTP server receiving the mail.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startSmtp, type SmtpHandle } from '../helpers/smtp.js';
import { tempDir, writeConfig } from '../helpers/config.js';
import { archivusSignature, postArchivus, startRelay, waitFor, type RelayProcess } from '../helpers/relay-process.js';

const SECRET = 'it-is-a-secret';

function config(slack: Receiver, target: Receiver, smtp: SmtpHandle, dir: string): string {
  return `
server: { bodyLimit: 2kb }
storage: { path: ${join(dir, 'relay.db')} }
delivery: { retry: { attempts: 3, initialDelay: 50ms, maxDelay: 200ms } }
sources:
  archivus:
    path: /webhooks/archivus
    verify: { scheme: archivus, secrets: ["\${ARCHIVUS_WEBHOOK_SECRET}"] }
actions:
  team-slack:
    use: slack
    with:
      url: ${slack.url}/services/T1/B1/X
      text: "Contract {{ payload.data.document.filename }} processed: {{ payload.data.document.ai_summary }}"
rules:
  - name: contracts
    on: document.*
    when:
      all:
        - { path: $.type, equals: document.processed }
        - { path: "$.data.document.ai_tags[*]", equals: contract }
    actions:
      - use: team-slack
      - use: forward
        with: { url: "${target.url}/legal" }
  - name: failures
    on: document.failed
    actions:
      - use: email
        with:
          smtp: { host: 127.0.0.1, port: ${smtp.port}, secure: false }
          from: relay@example.com
          to: ops@example.com
          subject: "Document {{ payload.data.document_id }} failed"
          text: "{{ payload.data.error }}"
`;
}

const processed = JSON.stringify({
  id: 'evt_processed_1',
  type: 'document.processed',
  timestamp: '2025-12-16T10:30:00Z',
  data: {
    document_id: 'doc_abc123',
    document: { id: 'doc_abc123', filename: 'contract.pdf', ai_summary: 'An NDA.', ai_tags: ['contract', 'legal'] },
  },
});

describe('relay core end to end', () => {
  let slack: Receiver;
  let target: Receiver;
  let smtp: SmtpHandle;
  let relay: RelayProcess;
  let url: string;

  beforeAll(async () => {
    [slack, target, smtp] = await Promise.all([startReceiver(), startReceiver(), startSmtp()]);
    const dir = tempDir();
    relay = await startRelay(writeConfig(config(slack, target, smtp, dir), dir), { ARCHIVUS_WEBHOOK_SECRET: SECRET });
    url = `${relay.url}/webhooks/archivus`;
  });
  afterAll(async () => {
    await relay?.stop();
    await Promise.all([slack?.close(), target?.close(), smtp?.close()]);
  });

  it('posts a contract to Slack with the rendered text and forwards the original body', async () => {
    const res = await postArchivus(url, processed, SECRET);
    expect(res.status).toBe(202);
    expect(res.json).toEqual({ status: 'accepted', id: 'evt_processed_1' });

    const [message] = await slack.waitForRequests(1);
    expect(JSON.parse(message!.text)).toMatchObject({ text: 'Contract contract.pdf processed: An NDA.' });

    const [forwarded] = await target.waitForRequests(1);
    expect(forwarded!.url).toBe('/legal');
    expect(forwarded!.text).toBe(processed);
    expect(forwarded!.headers['x-relay-event-id']).toBe('evt_processed_1');
    // The provider's signature is not passed on: it would be meaningless to the target.
    expect(forwarded!.headers['x-archivus-signature']).toBeUndefined();
  });

  it('sends a document.failed event as an email with the rendered subject', async () => {
    const failed = JSON.stringify({
      id: 'evt_failed_1',
      type: 'document.failed',
      timestamp: '2025-12-16T10:30:00Z',
      data: { document_id: 'doc_def456', error: 'Processing failed: Invalid file format' },
    });
    expect((await postArchivus(url, failed, SECRET)).status).toBe(202);
    const mail = await waitFor(() => smtp.messages.find((m) => m.subject.includes('doc_def456')), 'the email');
    expect(mail.subject).toBe('Document doc_def456 failed');
    expect(mail.envelopeTo).toEqual(['ops@example.com']);
    expect(mail.text).toContain('Processing failed: Invalid file format');
  });

  it('answers before any action runs', async () => {
    // The target holds its answer until the sender has been answered: if
    // Relay waited for its actions, this would deadlock and time out.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    target.respond(async () => {
      await gate;
      return { status: 200 };
    });
    const body = processed.replace('evt_processed_1', 'evt_processed_slow');
    const res = await postArchivus(url, body, SECRET);
    expect(res.status).toBe(202);
    await target.waitForRequests(2, 10_000);
    release();
    target.respond({ status: 200 });
  });

  describe('status codes', () => {
    const post = (path: string, body: string, headers: Record<string, string>, method = 'POST') =>
      fetch(`${relay.url}${path}`, { method, headers, body: method === 'GET' ? undefined : body });

    it('401 without a signature, and the error does not reveal the expected one', async () => {
      const res = await post('/webhooks/archivus', processed, { 'content-type': 'application/json' });
      expect(res.status).toBe(401);
      expect(await res.json()).toHaveProperty('error');
    });

    it('401 with a bad signature', async () => {
      const good = archivusSignature(processed, SECRET);
      const res = await post('/webhooks/archivus', processed, { 'x-archivus-signature': archivusSignature(processed, 'wrong') });
      const text = await res.text();
      expect(res.status).toBe(401);
      expect(text).not.toContain(good.slice(7));
    });

    it('400 for a signed body that is not JSON', async () => {
      const body = 'not json {';
      const res = await post('/webhooks/archivus', body, { 'x-archivus-signature': archivusSignature(body, SECRET) });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'body is not valid JSON' });
    });

    it('400 for signed JSON without an event type', async () => {
      const body = JSON.stringify({ id: 'x1', data: {} });
      const res = await post('/webhooks/archivus', body, { 'x-archivus-signature': archivusSignature(body, SECRET) });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/event type not found/);
    });

    it('413 for a body over the limit', async () => {
      const body = JSON.stringify({ id: 'big', type: 'document.uploaded', pad: 'x'.repeat(4096) });
      const res = await post('/webhooks/archivus', body, { 'x-archivus-signature': archivusSignature(body, SECRET) });
      expect(res.status).toBe(413);
      expect(await res.json()).toHaveProperty('error');
    });

    it('404 for an unknown path', async () => {
      const res = await post('/webhooks/nope', processed, {});
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'no source at this path' });
    });

    it('405 for the wrong method', async () => {
      const res = await post('/webhooks/archivus', '', {}, 'GET');
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(await res.json()).toHaveProperty('error');
    });

    it('survives hostile input without a 500 or a crash', async () => {
      const bodies = ['', '\u0000\u0001', '{"id":', '[]', 'null', '"string"', '{"type":{"a":1},"id":[1]}', '\xff\xfe'];
      for (const body of bodies) {
        for (const headers of <Record<string, string>[]>[
          { 'x-archivus-signature': archivusSignature(body, SECRET) },
          { 'x-archivus-signature': 'sha256=zz' },
          { 'x-archivus-signature': 'x'.repeat(5000) },
          { 'content-type': 'application/x-www-form-urlencoded; charset=bogus', 'x-archivus-signature': archivusSignature(body, SECRET) },
        ]) {
          const res = await post('/webhooks/archivus', body, headers);
          expect(res.status, `${JSON.stringify(body)} ${JSON.stringify(headers)}`).toBeLessThan(500);
        }
      }
      // Still alive and accepting.
      const res = await postArchivus(url, processed.replace('evt_processed_1', 'evt_after_fuzz'), SECRET);
      expect(res.status).toBe(202);
    });
  });
});
