// Issue 12 item 5, through a real server: property-based requests
// (fast-check) never get a 500, and a signed source accepts nothing that is
// not correctly signed, whatever the body, content type and headers.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';
import { archivusSignature } from '../helpers/relay-process.js';

const RUNS = { numRuns: 60, seed: 12 };

const jsonText = fc.oneof(
  fc.json({ maxDepth: 6 }),
  fc.record({ id: fc.string({ maxLength: 300 }), type: fc.string({ maxLength: 300 }), data: fc.jsonValue({ maxDepth: 3 }) }).map((o) => JSON.stringify(o)),
  fc.integer({ min: 1, max: 3000 }).map((d) => `{"id":"d","type":"t","p":${'['.repeat(d)}${']'.repeat(d)}}`),
);
const body = fc.oneof(jsonText, fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')));
const contentType = fc.constantFrom('application/json', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/json; charset=iso-8859-1', 'application/json; charset=nope', '', 'multipart/form-data');

describe('arbitrary requests to a running Relay', () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startInProcess(`
server: { bodyLimit: 64kb }
sources:
  signed: { path: /hooks/signed, verify: { scheme: archivus, secret: s3cret } }
  open: { path: /hooks/open, verify: { scheme: none }, event: { type: $.type } }
rules:
  - { name: all, on: "**", when: { path: "$..x", matches: "^a" }, actions: [{ use: log }] }
`);
  });
  afterAll(async () => relay?.stop());

  const post = (path: string, text: string, headers: Record<string, string>) =>
    fetch(`${relay.url}${path}`, { method: 'POST', headers, body: Buffer.from(text, 'latin1') });

  it('a correctly signed source: never a 500, never a 2xx without the right signature', async () => {
    await fc.assert(
      fc.asyncProperty(body, contentType, fc.boolean(), fc.string({ maxLength: 80 }), async (text, type, signs, forged) => {
        const signature = signs ? archivusSignature(Buffer.from(text, 'latin1'), 's3cret') : `sha256=${forged}`;
        const res = await post('/hooks/signed', text, { 'content-type': type, 'x-archivus-signature': signature });
        await res.arrayBuffer();
        expect(res.status).not.toBe(500);
        if (!signs) expect(res.status).toBe(401);
        else expect([200, 202, 400]).toContain(res.status);
      }),
      RUNS,
    );
  });

  it('an unsigned source: every answer is 2xx or a clear 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(body, contentType, async (text, type) => {
        const res = await post('/hooks/open', text, { 'content-type': type });
        const answer = (await res.json()) as { status?: string; error?: string };
        expect([200, 202, 400, 413]).toContain(res.status);
        if (res.status >= 400) expect(typeof answer.error).toBe('string');
      }),
      RUNS,
    );
  });
});
