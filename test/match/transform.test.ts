// The transform engine (issue 15 item 5): JSONata and JSON templates,
// compiled at load with located errors, rendered per event.

import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../src/errors.js';
import { compileTransform, TransformError } from '../../src/match/transform.js';
import { contextFor, makeBatch, makeEvent } from '../helpers/events.js';

const at = ['rules', 0, 'actions', 0, 'with', 'transform'];
const event = makeEvent({
  id: 'evt_1',
  type: 'document.processed',
  payload: { data: { document: { filename: 'a.pdf', size: 1200, ai_tags: ['contract', 'nda'] } }, flag: true },
  headers: { 'x-tenant': 'acme' },
});
const ctx = contextFor([event]);

function compileIssues(value: Parameters<typeof compileTransform>[0]): string[] {
  try {
    compileTransform(value, at);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map(formatIssue);
  }
  throw new Error('expected a config error');
}

describe('jsonata', () => {
  it('maps the payload, with $event and $headers bound', async () => {
    const t = compileTransform({ jsonata: '{"text": $event.type & ": " & data.document.filename, "kb": data.document.size / 1000, "tenant": $headers."x-tenant", "tags": data.document.ai_tags}' }, at);
    expect(await t(ctx)).toEqual({ text: 'document.processed: a.pdf', kb: 1.2, tenant: 'acme', tags: ['contract', 'nda'] });
  });

  it('sees a batch as the array of payloads, with $events', async () => {
    const batch = makeBatch(3, (i) => ({ payload: { n: i } }));
    const t = compileTransform({ jsonata: '{"total": $sum(n), "ids": $events.event.id}' }, at);
    expect(await t(contextFor(batch, true))).toEqual({ total: 3, ids: batch.map((e) => e.id) });
  });

  it('a syntax error is a config error at its key path, with the character it stopped at', () => {
    expect(compileIssues({ jsonata: '{"a": data.(}' })).toEqual([
      expect.stringMatching(/^rules\[0\]\.actions\[0\]\.with\.transform\.jsonata: invalid JSONata at character 13 \(near "}"\): The symbol "}" cannot be used/),
    ]);
  });

  it('an expression that matches nothing, or that throws, fails the attempt for good', async () => {
    const none = await compileTransform({ jsonata: 'nothing.here' }, at)(ctx).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(TransformError);
    expect(none).toMatchObject({ retryable: false, message: expect.stringMatching(/matched nothing/) });
    const thrown = await compileTransform({ jsonata: '$error("refused")' }, at)(ctx).catch((e: unknown) => e);
    expect(thrown).toMatchObject({ retryable: false, message: expect.stringMatching(/transform at rules\[0\].*jsonata failed: .*refused/) });
  });

  it('unbounded recursion stops at the stack limit instead of hanging a worker', async () => {
    const loop = compileTransform({ jsonata: '($f := function($x) { $f($x + 1) }; $f(0))' }, at);
    const err = await loop(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransformError);
    expect((err as Error).message).toMatch(/U1001|D1012|stack/i);
  });

  it('cannot reach JavaScript: no eval of code, no prototypes', async () => {
    const t = compileTransform({ jsonata: '{"ctor": $string(constructor), "proto": __proto__}' }, at);
    // Both are undefined in JSONata, so the keys are left out.
    expect(await t(ctx)).toEqual({});
  });
});

describe('JSON template', () => {
  it('renders strings as Liquid; a lone {{ }} keeps the JSON type', async () => {
    const t = compileTransform(
      {
        template: {
          text: 'New {{ event.type }}: {{ payload.data.document.filename }}',
          size: '{{ payload.data.document.size }}',
          tags: '{{ payload.data.document.ai_tags }}',
          flag: '{{payload.flag}}',
          missing: '{{ payload.nope }}',
          fixed: [1, 'two', null, { deep: '{{ event.id | upcase }}' }],
        },
      },
      at,
    );
    expect(await t(ctx)).toEqual({
      text: 'New document.processed: a.pdf',
      size: 1200,
      tags: ['contract', 'nda'],
      flag: true,
      missing: null,
      fixed: [1, 'two', null, { deep: 'EVT_1' }],
    });
  });

  it('reports every broken template at its own key path', () => {
    expect(compileIssues({ template: { a: '{{ payload.x | nosuchfilter }}', b: ['ok', '{% if %}'] } })).toEqual([
      expect.stringMatching(/^rules\[0\]\.actions\[0\]\.with\.transform\.template\.a: invalid template: .*nosuchfilter/),
      expect.stringMatching(/^rules\[0\]\.actions\[0\]\.with\.transform\.template\.b\[1\]: invalid template/),
    ]);
  });
});
