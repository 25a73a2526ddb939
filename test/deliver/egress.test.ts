// The egress policy (issue 12, item 1): checked on the address each
// connection resolves to, for every built-in action and for a plugin that
// uses ctx.dispatcher. Real receivers on loopback (IPv4 and IPv6) and a real
// SMTP server; the only stand-in is a resolver for names loopback has not got.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { definePlugin, DeliveryError, EgressError } from '../../src/index.js';
import { EgressPolicy, type EgressConfig } from '../../src/deliver/egress-policy.js';
import { createEgress } from '../../src/deliver/egress.js';
import { caught, loadAction, makeEvent } from '../helpers/events.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startSmtp, type SmtpHandle } from '../helpers/smtp.js';
import { forward } from '../../plugins/forward/index.js';
import { slack } from '../../plugins/slack/index.js';
import { email } from '../../plugins/email/index.js';
import discord from '../../plugins/discord/index.js';

const policy = (config: EgressConfig) => {
  const { policy: p, issues } = EgressPolicy.compile(config);
  expect(issues).toEqual([]);
  return p;
};

describe('EgressPolicy', () => {
  it('allows everything but link-local, metadata and unspecified addresses without a config', () => {
    const p = policy({});
    for (const ok of ['127.0.0.1', '10.1.2.3', '192.168.1.1', '::1', '2001:db8::1', '8.8.8.8']) expect(p.refuse(ok)).toBeUndefined();
    expect(p.refuse('169.254.169.254')).toMatch(/link-local \(cloud metadata/);
    expect(p.refuse('::ffff:169.254.169.254')).toMatch(/link-local/); // an IPv4-mapped IPv6 address is the IPv4 one
    expect(p.refuse('fe80::1')).toMatch(/link-local/);
    expect(p.refuse('fd00:ec2::254')).toMatch(/AWS metadata/);
    expect(p.refuse('0.0.0.0')).toMatch(/unspecified/);
    expect(p.refuse('::')).toMatch(/unspecified/);
  });

  it('opens an always-denied range only to an allow entry holding its address, not to a host name', () => {
    expect(policy({ allow: ['169.254.169.254'] }).refuse('169.254.169.254')).toBeUndefined();
    expect(policy({ allow: ['metadata.internal'] }).refuse('169.254.169.254', 'metadata.internal')).toMatch(/denied unless egress.allow/);
  });

  it('denies CIDR ranges and addresses, IPv4 and IPv6, before anything is allowed', () => {
    const p = policy({ allow: ['10.0.0.0/8', 'api.example.com'], deny: ['10.9.0.0/16', '2001:db8::/32', 'bad.example.com'] });
    expect(p.refuse('10.1.2.3')).toBeUndefined();
    expect(p.refuse('10.9.1.1')).toBe('10.9.1.1 is denied by egress.deny "10.9.0.0/16"');
    expect(p.refuse('2001:db8::7', 'v6.example.com')).toBe('v6.example.com (2001:db8::7) is denied by egress.deny "2001:db8::/32"');
    expect(p.refuse('203.0.113.5', 'api.example.com')).toBeUndefined();
    expect(p.refuse('203.0.113.5', 'API.Example.COM.')).toBeUndefined();
    expect(p.refuse('203.0.113.5', 'other.example.com')).toBe('other.example.com (203.0.113.5) is not in egress.allow');
    expect(p.refuse('10.1.2.3', 'bad.example.com')).toBe('bad.example.com is denied by egress.deny "bad.example.com"');
  });

  it('matches *.example.com to subdomains only', () => {
    const p = policy({ allow: ['*.example.com'] });
    expect(p.refuse('203.0.113.5', 'a.b.example.com')).toBeUndefined();
    expect(p.refuse('203.0.113.5', 'example.com')).toMatch(/not in egress.allow/);
    expect(p.refuse('203.0.113.5', 'evilexample.com')).toMatch(/not in egress.allow/);
  });

  it('reports each bad entry at its key path', () => {
    const { issues } = EgressPolicy.compile({ allow: ['10.0.0.1/8', 'ok.example.com'], deny: ['not a host!', '10.1'] });
    expect(issues.map((i) => i.path)).toEqual([
      ['egress', 'allow', 0],
      ['egress', 'deny', 0],
      ['egress', 'deny', 1],
    ]);
    expect(issues[0]?.message).toMatch(/bits set after the \/8 prefix/);
  });
});

let rx: Receiver;
let rx6: { server: Server; url: string; hits: number };
let smtp: SmtpHandle;
beforeAll(async () => {
  rx = await startReceiver();
  smtp = await startSmtp();
  const state = { hits: 0 };
  const server = createServer((_req, res) => {
    state.hits += 1;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
  rx6 = {
    server,
    url: `http://[::1]:${(server.address() as AddressInfo).port}`,
    get hits() {
      return state.hits;
    },
  };
});
afterEach(() => {
  rx.requests.length = 0;
});
afterAll(async () => {
  await Promise.all([rx.close(), smtp.close(), new Promise((r) => rx6.server.close(r))]);
});

/** The rejection, asserted to be the permanent egress failure. */
async function refused(run: () => Promise<unknown>): Promise<string> {
  const err = await caught(run);
  expect(err).toBeInstanceOf(DeliveryError);
  expect(err).toMatchObject({ retryable: false, message: expect.stringMatching(/^egress policy: /) });
  return (err as Error).message;
}

describe('forward under an egress policy', () => {
  it('is refused by a deny CIDR, as permanent, and nothing reaches the target', async () => {
    const action = await loadAction(forward, { url: `${rx.url}/x` }, { egress: { deny: ['127.0.0.0/8'] } });
    expect(await refused(() => action.run(makeEvent()))).toBe('egress policy: 127.0.0.1 is denied by egress.deny "127.0.0.0/8"');
    expect(rx.requests).toHaveLength(0);
  });

  it('goes through when allowed, and is refused when outside the allow list', async () => {
    const allowed = await loadAction(forward, { url: `${rx.url}/x` }, { egress: { allow: ['127.0.0.1/32'] } });
    expect(await allowed.run(makeEvent())).toMatchObject({ status: 200 });
    const outside = await loadAction(forward, { url: `${rx.url}/x` }, { egress: { allow: ['10.0.0.0/8'] } });
    expect(await refused(() => outside.run(makeEvent()))).toMatch(/127\.0\.0\.1 is not in egress.allow/);
    expect(rx.requests).toHaveLength(1);
  });

  it('checks IPv6 addresses against IPv6 ranges', async () => {
    const open = await loadAction(forward, { url: rx6.url }, { egress: { deny: ['10.0.0.0/8'] } });
    expect(await open.run(makeEvent())).toMatchObject({ status: 200 });
    const closed = await loadAction(forward, { url: rx6.url }, { egress: { deny: ['::1/128'] } });
    expect(await refused(() => closed.run(makeEvent()))).toBe('egress policy: ::1 is denied by egress.deny "::1/128"');
    expect(rx6.hits).toBe(1);
  });

  it('checks the address a host name resolves to, not the name', async () => {
    const action = await loadAction(forward, { url: `http://localhost:${rx.port}/x` }, { egress: { deny: ['127.0.0.0/8', '::1'] } });
    expect(await refused(() => action.run(makeEvent()))).toMatch(/^egress policy: localhost \((127\.0\.0\.1|::1)\) is denied by egress.deny/);
    const byName = await loadAction(forward, { url: `http://localhost:${rx.port}/x` }, { egress: { deny: ['localhost'] } });
    expect(await refused(() => byName.run(makeEvent()))).toBe('egress policy: localhost is denied by egress.deny "localhost"');
    expect(rx.requests).toHaveLength(0);
  });

  it('refuses the cloud metadata address by default, before connecting', async () => {
    const action = await loadAction(forward, { url: 'http://169.254.169.254/latest/meta-data/' });
    expect(await refused(() => action.run(makeEvent()))).toMatch(/169\.254\.169\.254 is link-local/);
  });
});

describe('the egress connector', () => {
  // A resolver that answers like a rebinding DNS: the name has a denied and an allowed address.
  const resolver = (answers: Record<string, string[]>) =>
    ((hostname: string, _o: unknown, cb: (err: NodeJS.ErrnoException | null, a: Array<{ address: string; family: number }>) => void) => {
      const list = answers[hostname] ?? [];
      process.nextTick(cb, null, list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
    });

  it('drops the denied addresses of a name and connects to an allowed one', async () => {
    const { egress, close } = createEgress(policy({}), { lookup: resolver({ 'mixed.test': ['169.254.169.254', '127.0.0.1'] }) });
    const res = await request(`http://mixed.test:${rx.port}/mixed`, { dispatcher: egress.dispatcher });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    expect(rx.requests.map((r) => r.url)).toEqual(['/mixed']);
    await close();
  });

  it('refuses a name whose every address is denied', async () => {
    const { egress, close } = createEgress(policy({}), { lookup: resolver({ 'metadata.test': ['169.254.169.254'] }) });
    const err = await caught(() => request(`http://metadata.test:${rx.port}/`, { dispatcher: egress.dispatcher }));
    expect(err).toBeInstanceOf(EgressError);
    expect((err as Error).message).toBe(
      'egress policy: metadata.test (169.254.169.254) is link-local (cloud metadata lives at 169.254.169.254), denied unless egress.allow lists its address',
    );
    await expect(egress.connect({ host: 'metadata.test', port: smtp.port })).rejects.toBeInstanceOf(EgressError);
    await close();
  });
});

describe('plugins under an egress policy', () => {
  const deny = { egress: { deny: ['127.0.0.0/8'] } };

  it('covers a custom plugin that sends through ctx.dispatcher', async () => {
    const probe = definePlugin<{ url: string }>({
      name: 'probe',
      description: 'Requests a URL through the context dispatcher.',
      options: { type: 'object', required: ['url'], properties: { url: { type: 'string' } } },
      urls: ['url'],
      create(config, ctx) {
        return async ({ signal }) => {
          const res = await request(config.url, { dispatcher: ctx.dispatcher, signal });
          await res.body.dump();
          return { status: res.statusCode };
        };
      },
    });
    expect(await (await loadAction(probe, { url: rx.url })).run(makeEvent())).toMatchObject({ status: 200 });
    const blocked = await loadAction(probe, { url: rx.url }, deny);
    // Nothing caught or translated in the plugin: the EgressError is already permanent.
    expect(await refused(() => blocked.run(makeEvent()))).toMatch(/127\.0\.0\.1 is denied/);
    expect(rx.requests).toHaveLength(1);
  });

  it('covers slack and the discord example', async () => {
    const s = await loadAction(slack, { url: `${rx.url}/services/T/B/X`, text: 'hi' }, deny);
    expect(await refused(() => s.run(makeEvent()))).toMatch(/127\.0\.0\.1 is denied/);
    const d = await loadAction(discord, { url: `${rx.url}/api/webhooks/1/a`, content: 'hi' }, deny);
    expect(await refused(() => d.run(makeEvent()))).toMatch(/127\.0\.0\.1 is denied/);
    expect(rx.requests).toHaveLength(0);
  });

  it("covers email's SMTP connection", async () => {
    const options = { smtp: { host: smtp.host, port: smtp.port }, from: 'relay@example.com', to: 'ops@example.com', text: 'hi' };
    const before = smtp.connections;
    const blocked = await loadAction(email, options, deny);
    expect(await refused(() => blocked.run(makeEvent()))).toMatch(/127\.0\.0\.1 is denied/);
    expect(smtp.connections).toBe(before);
    await (await loadAction(email, options, { egress: { allow: ['127.0.0.1'] } })).run(makeEvent());
    expect(smtp.messages).toHaveLength(1);
  });
});
