// `relay init`: the starter config it writes must load, for any choice.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/format.js';
import { initCommand, type InitOptions } from '../../src/cli/init.js';
import { loadConfig } from '../../src/config/load.js';
import { dryRun } from '../../src/dry-run.js';
import { ACTIONS, PROVIDERS, starterConfig } from '../../src/init/template.js';
import type { JsonSchema } from '../../src/plugin.js';
import { tempDir } from '../helpers/config.js';

function capture(): Io & { printed: string[]; logged: string[] } {
  const printed: string[] = [];
  const logged: string[] = [];
  return { printed, logged, out: (t) => void printed.push(t), err: (t) => void logged.push(t), tty: false };
}

/** A value each secret's scheme accepts. */
const secretValue = (name: string) =>
  name === 'STANDARD_WEBHOOKS_SECRET' ? 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' : name === 'WEBHOOK_BASIC_AUTH' ? 'user:pass' : 'test-secret';

async function init(opts: Partial<InitOptions>, answers?: string[]) {
  const output = join(tempDir('relay-init-'), 'relay.config.yaml');
  const io = capture();
  const ask = answers ? async () => answers.shift() ?? '' : null;
  const text = await initCommand({ output, ...opts }, io, ask);
  return { output, io, text };
}

const combos: Array<[string, string]> = [
  ['archivus', 'log'],
  ['github,stripe', 'slack,log'],
  ['slack,shopify,standard-webhooks', 'email,forward'],
  [Object.keys(PROVIDERS).join(','), Object.keys(ACTIONS).join(',')],
];

describe('relay init', () => {
  const editorSchema = new Ajv({ strict: false }).compile(JSON.parse(readFileSync('config/relay.schema.json', 'utf8')) as JsonSchema);

  it.each(combos)('--providers %s --actions %s writes a config that loads once its secrets are set', async (providers, actions) => {
    const { output, text, io } = await init({ providers, actions });
    expect(readFileSync(output, 'utf8')).toBe(text);
    expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=\S+relay\.schema\.json$/);

    const { required } = starterConfig({ providers: providers.split(','), actions: actions.split(','), schemaPath: 'x' });
    const env = Object.fromEntries(required.map((n) => [n, secretValue(n)]));
    const config = await loadConfig(output, { env });
    expect([...config.sources.values()].map((s) => s.name)).toEqual(providers.split(','));
    expect(config.rules.rules).toHaveLength(providers.split(',').length);
    // Only log runs out of the box; the rest wait for their variables.
    const enabled = [...config.actions.byRule.values()].flat().filter((a) => a.enabled).map((a) => a.plugin);
    expect(new Set(enabled)).toEqual(new Set(actions.includes('log') ? ['log'] : []));
    // The editor sees the file as written, ${VAR}s and all.
    expect(editorSchema(parse(text)), JSON.stringify(editorSchema.errors)).toBe(true);
    expect(io.printed.join('\n')).toContain(`set ${required.join(', ')}`);
  });

  it('refuses to load until the secrets it names are set', async () => {
    const { output } = await init({ providers: 'archivus,github', actions: 'log' });
    await expect(loadConfig(output, { env: { ARCHIVUS_WEBHOOK_SECRET: 'x' } })).rejects.toThrow(/GITHUB_WEBHOOK_SECRET/);
  });

  it('without flags and without a terminal: archivus + log, and the rule works on an Archivus example', async () => {
    const { output } = await init({});
    const config = await loadConfig(output, { env: { ARCHIVUS_WEBHOOK_SECRET: 'x' } });
    const result = await dryRun(config, { body: readFileSync('config/examples/document.processed.json') });
    expect(result.rules).toEqual([
      {
        rule: 'archivus-events',
        matched: true,
        actions: [{ action: expect.stringMatching(/^log~[0-9a-f]{8}$/), plugin: 'log', enabled: true, rendered: { message: 'Archivus document.processed: document doc_abc123' } }],
      },
    ]);
  });

  it('asks on a terminal for what the flags leave out, again after an unknown name', async () => {
    const answers = ['gitlab', 'github, stripe'];
    const { output, io } = await init({ actions: 'slack' }, answers);
    expect(io.logged).toEqual(['unknown providers: gitlab']);
    expect(answers).toEqual([]);
    const text = readFileSync(output, 'utf8');
    expect(text).toMatch(/^ {2}github:$/m);
    expect(text).toMatch(/^ {2}stripe:$/m);
    expect(text).toContain('use: team-slack');
    expect(text).not.toContain('use: log');
  });

  it('an empty answer takes the default', async () => {
    const { output } = await init({}, ['', '']);
    expect(readFileSync(output, 'utf8')).toMatch(/^ {2}archivus:$/m);
  });

  it('never overwrites without --force', async () => {
    const output = join(tempDir('relay-init-'), 'relay.config.yaml');
    writeFileSync(output, 'mine\n');
    await expect(initCommand({ output }, capture(), null)).rejects.toThrow(/exists; pass --force/);
    expect(readFileSync(output, 'utf8')).toBe('mine\n');
    await initCommand({ output, force: true }, capture(), null);
    expect(readFileSync(output, 'utf8')).toMatch(/^# yaml-language-server/);
  });

  it('points the editor at the shipped schema, relative to the new file', async () => {
    const { output, text } = await init({});
    const schemaPath = /\$schema=(\S+)/.exec(text)![1]!;
    expect(resolve(dirname(output), schemaPath)).toBe(resolve('config/relay.schema.json'));
  });

  it('names the known providers and actions on a typo', async () => {
    await expect(init({ providers: 'archivus,gitlab' })).rejects.toThrow(/unknown provider gitlab \(known: archivus, github/);
    await expect(init({ actions: 'sms' })).rejects.toThrow(/unknown action sms \(known: slack, email, forward, log\)/);
  });
});

// Issue 14 item 4: a plugin written outside the clone, as docs/writing-plugins.md says.
describe('relay init plugin NAME, outside the checkout', () => {
  const bin = resolve('bin/relay.js');
  const relayIn = (cwd: string, args: string[]) => {
    const res = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', env: { ...process.env, RELAY_CONFIG: '' } });
    return { code: res.status, out: res.stdout + res.stderr };
  };
  const config = (plugin: string) => `plugins: [${plugin}]
sources:
  hooks:
    path: /webhooks/hooks
    verify: { scheme: hmac, header: X-Sig, secret: s3cret }
    event: { type: $.type, id: $.id }
rules:
  - name: all
    on: "**"
    actions:
      - use: teams
        with: { url: "http://127.0.0.1:9/x", text: "{{ payload.type | upcase }}" }
`;

  it('scaffolds a plugin whose import of relay-webhooks resolves, and relay test runs it', () => {
    const dir = tempDir('relay-plugin-');
    expect(dir.startsWith(resolve('.'))).toBe(false);
    expect(relayIn(dir, ['init', 'plugin', 'teams']).code).toBe(0);
    expect(readFileSync(join(dir, 'plugins/teams/index.ts'), 'utf8')).toContain("from 'relay-webhooks'");
    writeFileSync(join(dir, 'relay.config.yaml'), config('./plugins/teams/index.ts'));
    writeFileSync(join(dir, 'e.json'), '{"type":"thing.done","id":"e1"}');
    const { code, out } = relayIn(dir, ['test', 'e.json']);
    expect(out).toMatch(/→ teams~[0-9a-f]{8} \(teams\)\n\s+text: THING\.DONE/);
    expect(code).toBe(0);
  });

  it('a CommonJS plugin file is told how to become an ES module', () => {
    const dir = tempDir('relay-plugin-');
    expect(relayIn(dir, ['init', 'plugin', 'teams', '--dir', 'p']).code).toBe(0);
    writeFileSync(join(dir, 'teams.ts'), readFileSync(join(dir, 'p/index.ts')));
    writeFileSync(join(dir, 'relay.config.yaml'), config('./teams.ts'));
    const { code, out } = relayIn(dir, ['validate']);
    expect(code).toBe(1);
    expect(out).toMatch(/plugins\[0\]: cannot load plugin "\.\/teams\.ts".*must be an ES module.*relay init plugin NAME/);
  });
});
