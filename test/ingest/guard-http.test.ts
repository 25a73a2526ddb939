// guard() mounted in a bare Koa app the way the server will call it (before
// the body is read), checked over a real socket.

import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { compileAllowlist } from '../../src/ingest/allowlist.js';
import { clientIp, guard, type SourceGuards } from '../../src/ingest/guard.js';
import { createRateLimit } from '../../src/ingest/rate-limit.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((done) => s.close(done));
  }
});

async function serve(source: SourceGuards, trustProxy = false): Promise<string> {
  const app = new Koa();
  app.use(async (ctx) => {
    const refused = await guard(source, clientIp(ctx.req.socket.remoteAddress, ctx.req.headers['x-forwarded-for'], trustProxy));
    if (refused) {
      ctx.status = refused.status;
      for (const [k, v] of Object.entries(refused.headers ?? {})) ctx.set(k, v);
      ctx.body = refused.body;
      return;
    }
    ctx.status = 202;
    ctx.body = { accepted: true };
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((ready) => server.once('listening', ready));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}

const post = (url: string, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', headers, body: '{}' });

describe('guard over HTTP', () => {
  it('answers 403 to a peer outside the allowlist, spoofed X-Forwarded-For or not', async () => {
    const url = await serve({ allow: compileAllowlist(['10.0.0.0/8'], ['sources', 's', 'allowlist']) });
    for (const headers of <Record<string, string>[]>[{}, { 'x-forwarded-for': '10.0.0.1' }]) {
      const res = await post(url, headers);
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toEqual({ error: 'client address not allowed' });
    }
  });

  it('admits the peer its allowlist names, and a forwarded client only with trustProxy', async () => {
    const allow = compileAllowlist(['127.0.0.1'], ['sources', 's', 'allowlist']);
    expect((await post(await serve({ allow }))).status).toBe(202);
    const proxied = await serve({ allow }, true);
    expect((await post(proxied, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(403);
    expect((await post(proxied, { 'x-forwarded-for': '127.0.0.1, 10.0.0.1' })).status).toBe(202);
  });

  it('answers 429 with a whole-second Retry-After once the limit is spent', async () => {
    const url = await serve({ limit: createRateLimit({ rate: 2, per: '1m' }, ['sources', 's', 'rateLimit']) });
    expect((await post(url)).status).toBe(202);
    expect((await post(url)).status).toBe(202);
    const res = await post(url);
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ error: 'too many requests' });
    const retryAfter = res.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(55);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  });
});
