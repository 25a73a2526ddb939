// `relay schema` and the committed config/relay.schema.json that the shipped
// config's first line points editors at.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configSchema, schemaCommand } from '../../src/cli/schema.js';
import type { Io } from '../../src/cli/format.js';
import { interpolateTree } from '../../src/config/env.js';
import { loadConfig } from '../../src/config/load.js';
import type { JsonSchema } from '../../src/plugin.js';
import { minimal, tempDir, writeConfig } from '../helpers/config.js';

const committed = () => readFileSync('config/relay.schema.json', 'utf8');
const validator = (schema: JsonSchema) => new Ajv({ strict: false, allErrors: true }).compile(schema);
const shippedText = () => readFileSync('relay.config.yaml', 'utf8');

async function printed(config?: string): Promise<string> {
  const out: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: () => {}, tty: false };
  await schemaCommand(config === undefined ? {} : { config }, io);
  return `${out.join('\n')}\n`;
}

describe('relay schema', () => {
  it('config/relay.schema.json is what `relay schema > config/relay.schema.json` writes (regenerate it when this fails)', async () => {
    expect(committed()).toBe(await printed());
    // The shipped config has no custom plugins, so -c gives the same schema.
    expect(await printed('relay.config.yaml')).toBe(await printed());
  });

  it('the shipped config starts with the editor line pointing at it', () => {
    expect(shippedText().split('\n')[0]).toBe('# yaml-language-server: $schema=./config/relay.schema.json');
  });

  it('the shipped relay.config.yaml validates against it as written, ${VAR} references included', () => {
    const validate = validator(JSON.parse(committed()) as JsonSchema);
    const raw = parse(shippedText()) as unknown;
    expect(JSON.stringify(raw)).toContain('${SLACK_ENABLED:-false}');
    expect(validate(raw), JSON.stringify(validate.errors)).toBe(true);
    // …and after interpolation with the defaults, as the loader sees it.
    const { value } = interpolateTree(parse(shippedText()), { ARCHIVUS_WEBHOOK_SECRET: 'x' });
    expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
  });

  it('accepts ${VAR} only in place of a whole value; wrong types and unknown keys still fail', async () => {
    const validate = validator(JSON.parse(committed()) as JsonSchema);
    const withAction = (action: string) => parse(`${minimal}\nactions:\n  a:\n${action}`) as unknown;
    const ok = (action: string) => validate(withAction(action));
    expect(ok('    use: log\n    enabled: ${LOG_ENABLED:-false}\n    concurrency: ${N}')).toBe(true);
    expect(ok('    use: slack\n    with: { url: "${SLACK_WEBHOOK_URL}", text: hi }')).toBe(true);
    expect(ok('    use: log\n    enabled: "yes"')).toBe(false);
    expect(ok('    use: log\n    enabled: ${A} and ${B}')).toBe(false);
    expect(ok('    use: log\n    concurrency: many')).toBe(false);
    expect(ok('    use: slack\n    with: { url: ftp://x, text: hi }')).toBe(false);
    expect(ok('    use: log\n    colour: red')).toBe(false);
    expect(ok('    use: log\n    with: { level: loud }')).toBe(false);
  });

  it("is needed: the loader's own schema refuses the shipped file before interpolation", async () => {
    const loaded = await loadConfig('relay.config.yaml', { env: { ARCHIVUS_WEBHOOK_SECRET: 'x' } });
    expect(validator(loaded.schema)(parse(shippedText()))).toBe(false);
  });

  it("with -c, includes the config's custom plugins' options, and fails on a plugin that does not load", async () => {
    const discord = resolve('plugins/discord/index.ts');
    const config = writeConfig(`plugins: ["${discord}"]\n${minimal}`, tempDir('relay-schema-'));
    const text = JSON.stringify(await configSchema(config));
    expect(text).toContain('"const":"discord"');
    expect(JSON.stringify(await configSchema())).not.toContain('"const":"discord"');
    const broken = writeConfig(`plugins: [./missing-plugin.js]\n${minimal}`, tempDir('relay-schema-'));
    await expect(configSchema(broken)).rejects.toThrow(/plugins\[0\]: cannot (find|load) plugin "\.\/missing-plugin\.js"/);
  });
});
