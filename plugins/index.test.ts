// The option schemas are the docs and `relay schema`: hold every plugin to
// the same rules so a property without a description cannot slip in.

import { describe, expect, it } from 'vitest';
import type { ActionPlugin, JsonSchema } from '../src/index.js';
import { createTestAjv } from '../test/helpers/events.js';
import discord from './discord/index.js';
import { builtins } from './index.js';

const all = [...builtins, discord as unknown as ActionPlugin];

/** Every problem with a schema's documentation, as `path: problem`. */
function lint(schema: JsonSchema, path: string): string[] {
  const problems: string[] = [];
  const props = schema.properties as Record<string, JsonSchema> | undefined;
  if (props) {
    if (schema.additionalProperties !== false) problems.push(`${path}: additionalProperties must be false`);
    for (const [name, prop] of Object.entries(props)) {
      const at = `${path}.${name}`;
      if (typeof prop.description !== 'string' || !prop.description) problems.push(`${at}: no description`);
      if (!Array.isArray(prop.examples) || prop.examples.length === 0) problems.push(`${at}: no examples`);
      problems.push(...lint(prop, at));
    }
  }
  return problems;
}

describe('built-in plugins', () => {
  it('are log, forward, slack, email and the event buses, and not the discord example', () => {
    expect(builtins.map((p) => p.name)).toEqual(['log', 'forward', 'slack', 'email', 'rabbitmq', 'nats', 'redis-stream', 'mqtt']);
  });

  it.each(all.map((p) => [p.name, p] as const))('%s: schema compiles strictly and documents every option', (name, plugin) => {
    expect(() => createTestAjv().compile(plugin.options)).not.toThrow();
    expect(plugin.options.type).toBe('object');
    expect(lint(plugin.options, name)).toEqual([]);
    const props = Object.keys(plugin.options.properties as object);
    for (const t of plugin.templates ?? []) expect(props).toContain(t);
  });

  it.each(all.map((p) => [p.name, p] as const))('%s: examples and defaults are valid values', (_name, plugin) => {
    const ajv = createTestAjv();
    const walk = (schema: JsonSchema): void => {
      for (const prop of Object.values((schema.properties ?? {}) as Record<string, JsonSchema>)) {
        const validate = ajv.compile({ ...prop, examples: undefined, default: undefined });
        for (const example of (prop.examples ?? []) as unknown[]) expect(validate(structuredClone(example)), JSON.stringify(example)).toBe(true);
        if (prop.default !== undefined) expect(validate(prop.default)).toBe(true);
        walk(prop);
      }
    };
    walk(plugin.options);
  });
});
