// A source's `event: { type, id }` paths are compiled once per config and
// walked per event; what they select must be what RFC 9535 selects (the
// first node, a string or a number), for plain paths and for the filters
// the library evaluates.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus } from '../helpers/relay-process.js';

describe("a source's event type and id paths", () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startInProcess(`
sources:
  plain:
    path: /hooks/plain
    verify: { scheme: archivus, secret: s3cret }
    event: { type: "$.meta['kind']", id: "$.items[0].ref" }
  filtered:
    path: /hooks/filtered
    verify: { scheme: archivus, secret: s3cret }
    event: { type: $.kind, id: "$.attrs[?@.k == 'id'].v" }
rules:
  - { name: all, on: "**", actions: [{ use: log }] }
`);
  });
  afterAll(async () => relay?.stop());

  const stored = async (source: string) => (await relay.store.listEvents({ source, limit: 10 })).map((e) => ({ type: e.type, id: e.id }));

  it('take the first selected node, numbers as text', async () => {
    const body = JSON.stringify({ meta: { kind: 'order.paid' }, items: [{ ref: 4711 }, { ref: 'second' }] });
    expect((await postArchivus(`${relay.url}/hooks/plain`, body, 's3cret')).status).toBe(202);
    expect(await stored('plain')).toEqual([{ type: 'order.paid', id: '4711' }]);
  });

  it('evaluate filters', async () => {
    const body = JSON.stringify({ kind: 'user.created', attrs: [{ k: 'name', v: 'Ada' }, { k: 'id', v: 'usr_9' }] });
    expect((await postArchivus(`${relay.url}/hooks/filtered`, body, 's3cret')).status).toBe(202);
    expect(await stored('filtered')).toEqual([{ type: 'user.created', id: 'usr_9' }]);
  });

  it('fall back to a body hash when the id path selects an object', async () => {
    const body = JSON.stringify({ meta: { kind: 'order.paid' }, items: [{ ref: { nested: true } }] });
    expect((await postArchivus(`${relay.url}/hooks/plain`, body, 's3cret')).status).toBe(202);
    const ids = (await stored('plain')).map((e) => e.id);
    expect(ids.some((id) => id.startsWith('sha256:'))).toBe(true);
  });
});
