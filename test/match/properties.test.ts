// Issue 12 item 5: property-based tests (fast-check) of the matcher and the
// templates over payloads a sender chooses. Nothing throws but the typed
// errors a delivery reports; a URL template never leaves its configured
// host or path prefix, whatever the payload holds.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TemplateContext } from '../../src/event.js';
import { ConfigError } from '../../src/errors.js';
import { compileGlobs } from '../../src/match/glob.js';
import { RuleSet, type RuleConfig } from '../../src/match/rules.js';
import { compileTemplate, compileUrlTemplate, TemplateError } from '../../src/match/template.js';

const RUNS = { numRuns: 150, seed: 12 };

// Sender-chosen values: any JSON, with keys that look like JSONPath or prototype names.
const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('a', 'b', 'tags', '__proto__', 'constructor', '$', '*', '..', "'", '[0]'));
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.integer(),
    fc.string({ maxLength: 20 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;
const type = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('document.processed', 'a.b.c', 'pull_request.opened', '**', '*'));

const rules: RuleConfig[] = [
  { name: 'equals', on: 'document.*', when: { path: '$.a', equals: 1 } },
  { name: 'in', on: '**', when: { path: '$.a.b', in: ['x', 2, null] } },
  { name: 'ordered', on: ['a.*', 'document.processed'], when: { all: [{ path: '$.a', gt: 3 }, { path: '$.b', lte: 'm' }] } },
  { name: 'regex', on: '**', when: { any: [{ path: '$..tags[*]', matches: '^le(g|x)' }, { not: { path: '$.a', exists: true } }] } },
  { name: 'contains', on: '**', source: 'docs', when: [{ path: '$.tags', contains: 'legal' }, { path: '$.b', startsWith: 'x' }] },
  { name: 'ends', on: 'pull_request.opened', when: { path: "$['a']['b'][0]", endsWith: 'z' } },
];

describe('matcher', () => {
  const set = new RuleSet(rules);

  it('never throws on any payload and type, and match() agrees with explain()', () => {
    fc.assert(
      fc.property(json, type, fc.constantFrom('docs', 'other'), (payload, t, source) => {
        const event = { type: t, source, payload };
        const matched = set.match(event).map((r) => r.name);
        const explained = set.explain(event).filter((e) => e.matched).map((e) => e.rule.name);
        expect(matched).toEqual(explained);
      }),
      RUNS,
    );
  });

  it('a literal type pattern matches that type only; ** matches every type', () => {
    const literal = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !s.includes('*'));
    fc.assert(
      fc.property(literal, type, (pattern, other) => {
        const exact = compileGlobs([pattern]);
        expect(exact(pattern)).toBe(true);
        expect(exact(other)).toBe(other === pattern);
        expect(compileGlobs(['**'])(other)).toBe(true);
      }),
      RUNS,
    );
  });

  it('compiling arbitrary rules either works or fails with a ConfigError', () => {
    const rule = fc.record({ name: fc.string({ maxLength: 5 }), on: fc.oneof(type, fc.array(type, { maxLength: 3 })), when: fc.option(json, { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 3 }), (rs) => {
        try {
          new RuleSet(rs as unknown as RuleConfig[]);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
        }
      }),
      RUNS,
    );
  });
});

const context = (payload: unknown): TemplateContext => ({
  payload,
  headers: { 'x-a': 'b' },
  event: { id: 'evt_1', type: 'x', source: 's', receivedAt: '2024-05-01T10:00:00.000Z' },
});

describe('templates', () => {
  const text = compileTemplate('{{ payload.a }} {{ payload.a.b | json }} {% for t in payload.tags %}[{{ t }}]{% endfor %} {{ payload | json }}', ['t']);

  it('render any payload to a string (or a TemplateError), never another exception', () => {
    fc.assert(
      fc.property(fc.record({ a: json, tags: json }, { requiredKeys: [] }), (payload) => {
        try {
          expect(typeof text(context(payload))).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(TemplateError);
        }
      }),
      RUNS,
    );
  });

  it('arbitrary template sources compile or fail with a ConfigError', () => {
    const source = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('{{', '{%', '{{ x | }}', '{% for %}', '{{ payload.a | nope }}', '{% if a %}'));
    fc.assert(
      fc.property(source, json, (src, payload) => {
        let render: ((ctx: TemplateContext) => string) | undefined;
        try {
          render = compileTemplate(src, ['t']);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          return;
        }
        try {
          render(context(payload));
        } catch (err) {
          expect(err).toBeInstanceOf(TemplateError);
        }
      }),
      RUNS,
    );
  });

  it('a URL template keeps its scheme, host, port and path prefix for any payload values', () => {
    const url = compileUrlTemplate('https://api.example.com:8443/tenants/{{ payload.tenant }}/events?x={{ payload.q }}#{{ payload.f }}', ['url']);
    const hostile = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('../../internal/admin?x=', '..', '.', '%2e%2e', '@169.254.169.254', '//evil.example', '\\\\evil', 'a/b', '#', '?', ' ', '\u0000', 'http://x'),
      json,
    );
    fc.assert(
      fc.property(hostile, hostile, hostile, (tenant, q, f) => {
        let out: string;
        try {
          out = url(context({ tenant, q, f }));
        } catch (err) {
          // Only the typed refusal of a dot segment: the delivery is dead with that reason.
          expect(err).toBeInstanceOf(TemplateError);
          return;
        }
        const parsed = new URL(out);
        expect(parsed.protocol).toBe('https:');
        expect(parsed.host).toBe('api.example.com:8443');
        expect(parsed.username + parsed.password).toBe('');
        const segments = parsed.pathname.split('/');
        expect(segments).toHaveLength(4);
        expect([segments[0], segments[1], segments[3]]).toEqual(['', 'tenants', 'events']);
      }),
      RUNS,
    );
  });
});
