// Secrets never reach the logs: run Relay at debug level, push events through
// every path that logs (accepted, rejected, delivered, retried, dead), then
// grep everything it printed for the secret values.
import { afterAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { tempDir, writeConfig } from '../helpers/config.js';
import { archivusSignature, postArchivus, startRelay, waitFor, type RelayProcess } from '../helpers/relay-process.js';

const SECRETS = {
  webhook: 'whsec-webhook-secret-1234567890',
  signing: 'forward-signing-secret-0987654321',
  smtpPass: 'smtp-password-abcdef',
  admin: 'admin-token-0123456789abcdef',
  bearer: 'Bearer inbound-auth-token-xyz',
};

describe('logs', () => {
  let relay: RelayProcess;
  let target: Receiver;
  afterAll(async () => {
    await relay?.stop();
    await target?.close();
  });

  it('are JSON lines with request and event ids, and never contain a secret', async () => {
    target = await startReceiver((_req, i) => (i === 0 ? { status: 503 } : i === 1 ? { status: 400 } : { status: 200 }));
    const dir = tempDir();
    const file = writeConfig(
      `
storage: { path: ${dir}/relay.db }
log: { level: debug }
delivery: { retry: { attempts: 2, initialDelay: 10ms, maxDelay: 20ms } }
sources:
  archivus: { path: /in, verify: { scheme: archivus, secret: "\${WEBHOOK_SECRET}" } }
rules:
  - name: fwd
    on: "**"
    actions:
      - use: forward
        with: { url: "${'${TARGET}'}/x", sign: { secret: "\${SIGNING_SECRET}" } }
      - use: email
        with:
          smtp: { host: 127.0.0.1, port: 1, auth: { user: u, pass: "\${SMTP_PASS}" } }
          from: a@example.com
          to: b@example.com
          text: hi
        retry: { attempts: 1 }
`,
      dir,
    );
    relay = await startRelay(file, {
      RELAY_LOG_LEVEL: 'debug',
      WEBHOOK_SECRET: SECRETS.webhook,
      SIGNING_SECRET: SECRETS.signing,
      SMTP_PASS: SECRETS.smtpPass,
      RELAY_ADMIN_TOKEN: SECRETS.admin,
      TARGET: target.url,
    });
    const url = `${relay.url}/in`;
    for (let i = 0; i < 3; i++) {
      const body = JSON.stringify({ id: `log-${i}`, type: 'doc.x' });
      expect((await postArchivus(url, body, SECRETS.webhook, { authorization: SECRETS.bearer })).status).toBe(202);
    }
    const bad = JSON.stringify({ id: 'forged', type: 'doc.x' });
    await fetch(url, { method: 'POST', headers: { 'x-archivus-signature': archivusSignature(bad, 'wrong'), authorization: SECRETS.bearer }, body: bad });
    await fetch(`${relay.url}/admin/events`, { headers: { authorization: `Bearer ${SECRETS.admin}` } });
    await fetch(`${relay.url}/admin/events`, { headers: { authorization: 'Bearer wrong-token-value-000' } });
    await target.waitForRequests(3, 15_000);
    await waitFor(() => (relay.output().match(/"msg":"(delivery dead-lettered|delivered)"/g) ?? []).length >= 6, 'all six deliveries to finish');
    await relay.stop();

    const out = relay.output();
    const lines = out.split('\n').filter(Boolean);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const received = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'event received');
    expect(received.length).toBe(3);
    for (const l of received) {
      expect(l.requestId).toEqual(expect.any(String));
      expect(l.eventId).toMatch(/^log-\d$/);
    }
    const signature = archivusSignature(JSON.stringify({ id: 'log-0', type: 'doc.x' }), SECRETS.webhook).slice(7);
    for (const secret of [...Object.values(SECRETS), SECRETS.bearer.slice(7), signature]) {
      expect(out.includes(secret), `log output contains ${secret}`).toBe(false);
    }
  });
});
