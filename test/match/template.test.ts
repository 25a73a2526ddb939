import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { issuesOf } from '../helpers/config-errors.js';
import type { TemplateContext } from '../../src/event.js';
import { compileTemplate, compileTemplates, compileUrlTemplate, TemplateError, URL_TEMPLATE_PATTERN } from '../../src/match/template.js';

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
    // The same event fails the same way on every attempt: not worth a retry.
    expect(caught).toMatchObject({ retryable: false });
    expect((caught as TemplateError).message).toMatch(/^template at actions\.n\.with\.text failed to render: kaput/);
    expect((caught as TemplateError).path).toEqual(['actions', 'n', 'with', 'text']);
  });

  it('retries only the render-time limit, which a stalled process can hit on any event', () => {
    // liquidjs's own messages: the time limit is wall-clock, the memory limit is the template's.
    expect(new TemplateError(['t'], 'template render limit exceeded')).toMatchObject({ retryable: true });
    expect(new TemplateError(['t'], 'memory alloc limit exceeded')).toMatchObject({ retryable: false });
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

describe('compileUrlTemplate', () => {
  const url = (source: string, payload: Record<string, unknown>) => compileUrlTemplate(source, ['u'])({ ...ctx, payload });

  it.each([
    // [template, payload, rendered]: every interpolated value is one URI component.
    ['https://api.test/tenants/{{ payload.t }}/events', { t: '../../internal/admin/delete-all?x=' }, 'https://api.test/tenants/..%2F..%2Finternal%2Fadmin%2Fdelete-all%3Fx%3D/events'],
    ['https://api.test/q?a={{ payload.v }}&b=1', { v: 'x&b=2#frag' }, 'https://api.test/q?a=x%26b%3D2%23frag&b=1'],
    ['https://api.test/#{{ payload.v }}', { v: 'a b/c' }, 'https://api.test/#a%20b%2Fc'],
    ['https://api.test/{{ payload.v }}', { v: '@evil.test\\x' }, 'https://api.test/%40evil.test%5Cx'],
    ['https://api.test/{{ payload.v }}', { v: { a: 1 } }, 'https://api.test/%7B%22a%22%3A1%7D'],
    ['https://api.test/{{ payload.v }}', { v: 'é' }, 'https://api.test/%C3%A9'],
    ['https://api.test/x/{{ payload.none }}', {}, 'https://api.test/x/'],
    ['https://api.test/{% if payload.v %}on/{{ payload.v | upcase }}{% endif %}', { v: 'a/b' }, 'https://api.test/on/A%2FB'],
    ['https://api.test/{% assign p = payload.v | append: "/" %}{{ p }}', { v: 'a' }, 'https://api.test/a%2F'],
    ['https://user:pw@api.test:8443/x', {}, 'https://user:pw@api.test:8443/x'],
  ])('%s', (source, payload, expected) => {
    expect(url(source, payload)).toBe(expected);
  });

  it('refuses a template in the scheme, user info, host or port at load, saying where it starts', () => {
    for (const source of [
      '{{ payload.u }}',
      '{{ payload.s }}://api.test/x',
      'https://{{ payload.h }}/x',
      'https://api.{{ payload.h }}.test/x',
      'https://api.test{{ payload.p }}',
      'https://api.test:{{ payload.p }}/x',
      'https://{{ payload.u }}@api.test/x',
      'https://api.test{% if payload.x %}.evil{% endif %}/x',
    ]) {
      const [issue] = issuesOf(() => compileUrlTemplate(source, ['with', 'url']));
      expect(issue?.path).toEqual(['with', 'url']);
      expect(issue?.message).toMatch(/^a template may not decide a URL's scheme, host or port \(it starts at character \d+\)/);
    }
    expect(issuesOf(() => compileUrlTemplate('https://api.test:{{ p }}/x', ['u']))[0]?.message).toContain('character 18');
  });

  it('refuses a literal that is not a URL, and offers no way around the encoding', () => {
    expect(issuesOf(() => compileUrlTemplate('api.test/x', ['u']))[0]?.message).toBe('"api.test/x" is not a URL');
    expect(issuesOf(() => compileUrlTemplate('https://api.test/{{ payload.p | raw }}', ['u']))[0]?.message).toMatch(/undefined filter: raw.*always percent-encoded/);
  });

  it('fails a render whose path would climb with a dot segment, as permanent', () => {
    for (const v of ['..', '.']) {
      let err: unknown;
      try {
        url('https://api.test/tenants/{{ payload.v }}/events', { v });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TemplateError);
      expect(err).toMatchObject({ retryable: false, message: `template at u failed to render: the rendered path has a "${v}" segment, which would leave the configured path` });
    }
    // A dot inside a segment, or dots in the query, are just text.
    expect(url('https://api.test/{{ payload.v }}?q={{ payload.v }}', { v: '..x' })).toBe('https://api.test/..x?q=..x');
    expect(url('https://api.test/x?q={{ payload.v }}', { v: '..' })).toBe('https://api.test/x?q=..');
  });

  it('gives editors a pattern with the same rule', () => {
    const pattern = new RegExp(URL_TEMPLATE_PATTERN, 'u');
    expect(pattern.test('https://api.test/t/{{ payload.t }}')).toBe(true);
    expect(pattern.test('${TARGET_URL}/t/{{ payload.t }}')).toBe(true);
    expect(pattern.test('https://{{ payload.h }}/x')).toBe(false);
    expect(pattern.test('{{ payload.url }}')).toBe(false);
  });
});
