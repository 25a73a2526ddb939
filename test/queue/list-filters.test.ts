// Event lists filtered by a type glob, with the semantics of a rule's `on:`
// (src/match/glob.ts), and the matched rules of each listed event.

import { afterEach, describe, expect, test } from 'vitest';

import { compileGlobs } from '../../src/match/glob.js';
import { storeDrivers } from '../helpers/drivers.js';
import { event, plain, T0 } from './fixtures.js';

const TYPES = [
  'document.processed',
  'document.failed',
  'document.page.added',
  'Document.processed',
  'documents.processed',
  'document_processed',
  'doc%ument.processed',
  'pull_request.opened',
  'pull_request.closed',
  'push',
  'invoice.paid',
  'invoice.payment.failed',
];

describe.each(await storeDrivers())('event list filters on $name', (driver) => {
  afterEach(() => driver.cleanup());

  async function seeded() {
    const store = await driver.open();
    for (const [i, type] of TYPES.entries()) {
      await store.ingest(event({ id: `t${i}`, type, receivedAt: T0 + i, matched: i % 2 === 0 ? ['even', 'all'] : [] }), i % 2 === 0 ? [plain()] : []);
    }
    return store;
  }

  test.each([
    ['document.*'],
    ['document.**'],
    ['*.processed'],
    ['**.failed'],
    ['pull_request.*'],
    ['doc%ument.*'],
    ['document_*'],
    ['invoice.*.failed'],
    ['*'],
    ['**'],
  ])('%s lists exactly the types that a rule on it matches', async (glob) => {
    const store = await seeded();
    const listed = (await store.listEvents({ type: glob, limit: 100 })).map((e) => e.type).sort();
    const matches = compileGlobs([glob]);
    expect(listed).toEqual(TYPES.filter(matches).sort());
  });

  test('a glob filter pages by seq like any other filter', async () => {
    const store = await seeded();
    const first = await store.listEvents({ type: 'document.*', limit: 1 });
    const second = await store.listEvents({ type: 'document.*', limit: 1, before: first[0]!.seq });
    expect([...first, ...second].map((e) => e.type)).toEqual(['document.failed', 'document.processed']);
  });

  test('each listed event carries the rules it matched at arrival', async () => {
    const store = await seeded();
    const listed = await store.listEvents({ type: 'document.*', limit: 100 });
    expect(listed.map((e) => [e.id, e.matched])).toEqual([
      ['t1', []],
      ['t0', ['even', 'all']],
    ]);
  });
});
