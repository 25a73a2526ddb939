import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { issuesOf } from '../helpers/config-errors.js';
import type { TemplateContext } from '../../src/event.js';
import { compileTemplate, compileTemplates, TemplateError } from '../../src/match/template.js';

const ctx: TemplateContext = {
  payload: { data: { id: 'doc_1', count: 3, tags: ['legal', 'tax'], meta: { lang: 'en' }, nothing: null } },
  headers: { 'x-github-event': 'push', 'content-type': 'application/json' },
  event: { id: 'evt_1', type: 'document.processed', source: 'docs', receivedAt: '2024-05-01T10:00:00.000Z' },
};


describe('compileTemplate', () => {
  it.each([
    ['Doc {{ payload.data.id }} ({{ payload.data.count }})', 'Doc doc_1 (3)'],
    ["{{ headers['x-github-event'] }}", 'push'],
    ['{{ event.type }} from {{ event.source }} #{{ event.id }} at {{ event.receivedAt }}', 'document.processed from docs #evt_1 at 2024-05-01T10:00:00.000Z'],
    ['{{ payload.data.meta }}', '{"lang":"en"}'],
    ['{{ payload.data.tags }}', '["legal","tax"]'],
    ['{{ payload.data | json }}', JSON.stringify((ctx.payload as { data: unknown }).data)],
    ['{{ payload.data.tags | join: ", " }}', 'legal, tax'],
    ['{{ payload.data.tags.size }} {{ payload.data.tags.first | upcase }}', '2 LEGAL'],
    ['{% if payload.data.count > 2 %}many{% else %}few{% endif %}', 'many'],
    ['{% for t in payload.data.tags %}[{{ t }}]{% endfor %}', '[legal][tax]'],
    ['{{ payload.data.missing }}|{{ payload.nope.deeper.still }}|{{ payload.data.nothing }}', '||'],
    // Prototypes are invisible: nothing inherited is read, and no method is called.
    ['{{ payload.data.constructor }}{{ payload.data.hasOwnProperty }}{{ payload.data.__proto__ }}{{ payload.data.tags.map }}', ''],
    ['{% if payload.data.__proto__ %}leak{% endif %}', ''],
    ['no markup at all', 'no markup at all'],
  ])('%s', (source, expected) => {
    expect(compileTemplate(source, ['t'])(ctx)).toBe(expected);
  });

  it('a syntax error is a ConfigError at the path, with liquid\'s message', () => {
    const issues = issuesOf(() => compileTemplate('Hi {{ payload.x ', ['rules', 0, 'actions', 1, 'with', 'text']));
    expect(issues[0]?.path).toEqual(['rules', 0, 'actions', 1, 'with', 'text']);
    expect(issues[0]?.message).toMatch(/invalid template: .*not closed/);
  });

  it('an unknown filter is a load-time error', () => {
    expect(issuesOf(() => compileTemplate('{{ payload | nope }}', ['x']))[0]?.message).toMatch(/undefined filter: nope/);
  });

  it('cannot read files', () => {
    for (const tag of ['{% include "/etc/passwd" %}', '{% render "x" %}', '{% layout "x" %}']) {
      expect(issuesOf(() => compileTemplate(tag, ['x']))[0]?.message).toMatch(/not found/);
    }
  });

  it('a render error is thrown as a TemplateError naming the template', () => {
    const render = compileTemplate('{{ payload.boom }}', ['actions', 'n', 'with', 'text']);
    const bad = { ...ctx, payload: Object.defineProperty({}, 'boom', { enumerable: true, get() { throw new Error('kaput'); } }) };
    let caught: unknown;
    try {
      render(bad);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TemplateError);
    expect((caught as TemplateError).message).toMatch(/^template at actions\.n\.with\.text failed to render: kaput/);
    expect((caught as TemplateError).path).toEqual(['actions', 'n', 'with', 'text']);
  });
});

describe('compileTemplates', () => {
  it('renders every string leaf of objects and arrays', () => {
    const render = compileTemplates(
      {
        url: 'https://x.test/{{ payload.data.id }}',
        headers: { 'x-event': '{{ event.type }}', fixed: 'a' },
        list: ['{{ payload.data.count }}', 'plain', 7, null, true, ['{{ headers["content-type"] }}']],
        n: 1,
      },
      ['with'],
    );
    expect(render(ctx)).toEqual({
      url: 'https://x.test/doc_1',
      headers: { 'x-event': 'document.processed', fixed: 'a' },
      list: ['3', 'plain', 7, null, true, ['application/json']],
      n: 1,
    });
  });

  it('returns constant subtrees as they are, without liquid', () => {
    const value = { a: { b: ['x', 1] }, c: 'y }} { % %} {' };
    const render = compileTemplates(value, []);
    expect(render(ctx)).toBe(value);
    const mixed = compileTemplates({ a: value.a, t: '{{ event.id }}' }, []);
    expect((mixed(ctx) as { a: unknown }).a).toBe(value.a);
  });

  it('keeps a __proto__ key a plain key', () => {
    const value = JSON.parse('{"__proto__": {"polluted": "{{ event.id }}"}}');
    const out = compileTemplates(value, [])(ctx) as Record<string, unknown>;
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it('reports every broken template with its path', () => {
    const issues = issuesOf(() => compileTemplates({ a: ['ok {{ x }}', '{{ x '], b: { c: '{% if %}' } }, ['actions', 'hook', 'with']));
    expect(issues.map((i) => i.path)).toEqual([
      ['actions', 'hook', 'with', 'a', 1],
      ['actions', 'hook', 'with', 'b', 'c'],
    ]);
  });
});
