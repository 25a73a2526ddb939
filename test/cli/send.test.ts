// `relay send` against a real Relay in this process: for every scheme, the
// request it builds must be one the matching source accepts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/format.js';
import { defaultUrl, sendCommand, type SendOptions } from '../../src/cli/send.js';
import { loadConfig } from '../../src/config/load.js';
import type { Relay } from '../../src/relay.js';
import { tempDir, writeConfig } from '../helpers/config.js';
import { startInProcess } from '../helpers/in-process.js';

const SW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

const yaml = (archivusSecret = 'arch-secret') => `
server: { port: 8080 }
sources:
  archivus: { path: /h/archivus, verify: { scheme: archivus, secret: ${archivusSecret} } }
  github: { path: /h/github, verify: { scheme: github, secrets: [gh-new, gh-old] } }
  stripe: { path: /h/stripe, verify: { scheme: stripe, secret: whsec_stripe } }
  slack: { path: /h/slack, verify: { scheme: slack, secret: slack-signing } }
  shopify: { path: /h/shopify, verify: { scheme: shopify, secret: shop-secret } }
  standard: { path: /h/standard, verify: { scheme: standard-webhooks, secret: ${SW_SECRET} } }
  hmac:
    path: /h/hmac
    verify: { scheme: hmac, secret: h, header: X-Sig, prefix: "sha256=", signed: "{timestamp}.{body}", timestampHeader: X-Ts, tolerance: 300 }
    event: { type: $.type, id: $.id }
  basic:
    path: /h/basic
    verify: { scheme: basic, secret: "user:pass" }
    event: { type: { header: x-event-type }, id: { header: x-request-id } }
  bearer: { path: /h/bearer, verify: { scheme: bearer, secret: tok3n }, event: { type: $.type } }
  none: { path: /h/none, verify: { scheme: none }, event: { type: $.type } }
rules:
  - { name: all, on: "**", actions: [{ use: log }] }
`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// source, body, extra options, expected stored type and id (from the body, or a header relay send generates)
const cases: Array<[string, object, Partial<SendOptions>, string, string | RegExp]> = [
  ['archivus', { id: 'evt_arch', type: 'document.processed' }, {}, 'document.processed', 'evt_arch'],
  // GitHub's and Shopify's id headers are not signed: the id is the signed body's hash (issue 12 item 6).
  ['github', { action: 'opened', number: 7 }, { type: 'pull_request.opened' }, 'pull_request.opened', /^sha256:[0-9a-f]{64}$/],
  ['stripe', { id: 'evt_stripe', type: 'payment_intent.succeeded' }, {}, 'payment_intent.succeeded', 'evt_stripe'],
  ['slack', { type: 'event_callback', event_id: 'Ev01', event: { type: 'app_mention' } }, {}, 'app_mention', 'Ev01'],
  ['shopify', { id: 820982911946154500 }, { type: 'orders/create' }, 'orders/create', /^sha256:[0-9a-f]{64}$/],
  ['standard', { type: 'invoice.paid' }, {}, 'invoice.paid', /^msg_[0-9a-f]{32}$/],
  ['hmac', { id: 'evt_hmac', type: 'build.done' }, {}, 'build.done', 'evt_hmac'],
  ['basic', { anything: true }, { type: 'invoice.created' }, 'invoice.created', UUID],
  // No id anywhere: Relay falls back to the body's hash and its dedup window.
  ['bearer', { type: 'job.finished' }, {}, 'job.finished', /^sha256:/],
  ['none', { type: 'ping' }, {}, 'ping', /^sha256:/],
];

function capture(): Io & { printed: string[]; logged: string[] } {
  const printed: string[] = [];
  const logged: string[] = [];
  return { printed, logged, out: (t) => void printed.push(t), err: (t) => void logged.push(t), tty: false };
}

describe('relay send', () => {
  let relay: Relay;
  let dir: string;
  let config: string;
  const event = (name: string, body: object) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(body));
    return file;
  };
  const path = (source: string) => `/h/${source}`;

  beforeAll(async () => {
    relay = await startInProcess(yaml());
    dir = tempDir('relay-send-');
    config = writeConfig(yaml(), dir);
  });
  afterAll(async () => relay?.stop());
  afterEach(() => {
    process.exitCode = undefined;
  });

  it.each(cases)('%s: signed as the scheme expects, accepted and stored', async (source, body, extra, type, id) => {
    const io = capture();
    const res = await sendCommand(event(source, body), { config, source, header: [], url: relay.url + path(source), ...extra }, io);
    expect(res.status, res.body).toBe(202);
    expect(res.id).toMatch(id);
    expect(io.printed).toEqual([`202 accepted ${res.id}`]);
    const stored = await relay.store.getEvent(res.id!);
    expect(stored).toMatchObject({ source, type });
    expect(process.exitCode).toBeUndefined();
  });

  it('posts to the configured port and the source path by default (PORT honoured)', async () => {
    const port = new URL(relay.url).port;
    const io = capture();
    const res = await sendCommand(event('default', { id: 'evt_default', type: 'x' }), { config, source: 'archivus', header: [] }, io, { PORT: port });
    expect(res.url).toBe(`http://127.0.0.1:${port}/h/archivus`);
    expect(res.status).toBe(202);
    // The same event again is a duplicate: still 2xx, still the id.
    const again = await sendCommand(event('default', { id: 'evt_default', type: 'x' }), { config, source: 'archivus', header: [] }, io, { PORT: port });
    expect(again).toMatchObject({ status: 200, id: 'evt_default' });
    expect(io.printed.at(-1)).toBe('200 duplicate evt_default');
  });

  it('builds the default URL from host, port and TLS', async () => {
    const loaded = await loadConfig(config, { env: { PORT: '9999' } });
    const archivus = [...loaded.sources.values()].find((s) => s.name === 'archivus')!;
    expect(defaultUrl(loaded, archivus)).toBe('http://127.0.0.1:9999/h/archivus');
    expect(defaultUrl({ ...loaded, server: { ...loaded.server, host: '::1', tls: { cert: 'c', key: 'k' } } }, archivus)).toBe('https://[::1]:9999/h/archivus');
  });

  it('exits non-zero and prints the error when Relay refuses the event', async () => {
    const wrong = writeConfig(yaml('not-the-secret'), tempDir('relay-send-'));
    const io = capture();
    const res = await sendCommand(event('bad', { id: 'evt_bad', type: 'x' }), { config: wrong, source: 'archivus', header: [], url: relay.url + '/h/archivus' }, io);
    expect(res.status).toBe(401);
    expect(process.exitCode).toBe(1);
    expect(io.logged.at(-1)).toMatch(/^401 .*signature/i);
  });

  it('takes GitHub event headers from -H, and asks for --type when there is none', async () => {
    const file = event('gh', { action: 'closed' });
    const url = relay.url + '/h/github';
    const res = await sendCommand(file, { config, source: 'github', url, header: ['X-GitHub-Event: issues'] }, capture());
    expect(res.status).toBe(202);
    expect(await relay.store.getEvent(res.id!)).toMatchObject({ type: 'issues.closed' });
    await expect(sendCommand(file, { config, source: 'github', url, header: [] }, capture())).rejects.toThrow(/x-github-event.*--type/);
  });

  it('lets -H replace a computed header (here: a broken signature is refused)', async () => {
    const io = capture();
    const res = await sendCommand(event('forged', { id: 'evt_forged', type: 'x' }), { config, source: 'archivus', header: ['X-Archivus-Signature: sha256=00'], url: relay.url + '/h/archivus' }, io);
    expect(res.status).toBe(401);
  });

  it('needs --source when the config has several, and names them', async () => {
    await expect(sendCommand(event('x', {}), { config, header: [] }, capture())).rejects.toThrow(/several sources.*archivus, github/);
    await expect(sendCommand(event('x', {}), { config, source: 'nope', header: [] }, capture())).rejects.toThrow(/unknown source "nope"/);
  });
});
