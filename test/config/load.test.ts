import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../src/errors.js';
import { loadYaml, minimal } from '../helpers/config.js';

async function issuesOf(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  try {
    await loadYaml(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => formatIssue({ ...i, file: 'relay.config.yaml' }));
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('config loading', () => {
  it('loads a minimal config and fills in defaults', async () => {
    const config = await loadYaml(minimal);
    expect(config.server.port).toBe(8080);
    expect(config.server.bodyLimit).toBe(1024 * 1024);
    expect(config.storage).toMatchObject({ driver: 'sqlite', sync: 'normal' });
    expect(config.sources.get('/webhooks/archivus')?.name).toBe('archivus');
    expect(config.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names file, line, column and key path of an unknown action, with the known ones', async () => {
    const yaml = minimal.replace('- use: log', '- use: slak');
    const [issue, ...rest] = await issuesOf(yaml);
    expect(rest).toEqual([]);
    expect(issue).toBe('relay.config.yaml:10:14 rules[0].actions[0].use: unknown action "slak"; did you mean "slack"? (known: log, forward, slack, email, rabbitmq, nats, redis-stream, mqtt)');
  });

  it('reports several errors together', async () => {
    const yaml = `
server: { port: "not a port", colour: blue }
sources:
  a: { path: /a, verify: { scheme: archivus, secret: x } }
rules:
  - name: r
    on: x
    actions: [{ use: nope }]
  - on: y
    actions: [{ use: log }]
`;
    const issues = await issuesOf(yaml);
    expect(issues.length).toBeGreaterThanOrEqual(3);
    expect(issues.some((i) => /^relay\.config\.yaml:2:\d+ server\.port: expected integer/.test(i))).toBe(true);
    expect(issues.some((i) => /server\.colour: unknown key "colour"/.test(i))).toBe(true);
    expect(issues.some((i) => /rules\[1\]: missing required key "name"/.test(i))).toBe(true);
  });

  it('fills ${VAR} and ${VAR:-default} from the environment, typed as YAML would', async () => {
    const yaml = minimal.replace('secret: s3cret', 'secret: "${SECRET}"') + 'server:\n  port: ${PORT_IN_FILE:-9099}\n';
    const config = await loadYaml(yaml, { SECRET: 'from-env' });
    expect(config.server.port).toBe(9099);
    expect(config.sources.get('/webhooks/archivus')?.options.secrets).toEqual(['from-env']);
  });

  it('PORT overrides the configured port', async () => {
    const config = await loadYaml(minimal, { PORT: '4321' });
    expect(config.server.port).toBe(4321);
  });

  it('an unset variable without default is an error at its position', async () => {
    const yaml = minimal.replace('secret: s3cret', 'secret: "${NOPE_SECRET}"');
    const issues = await issuesOf(yaml);
    expect(issues[0]).toMatch(/^relay\.config\.yaml:5:\d+ sources\.archivus\.verify\.secret: environment variable NOPE_SECRET is not set/);
  });

  it('refuses a verified source whose secret is empty', async () => {
    const yaml = minimal.replace('secret: s3cret', 'secret: "${EMPTY:-}"');
    const issues = await issuesOf(yaml);
    expect(issues.join('\n')).toMatch(/sources\.archivus\.verify: source "archivus" verifies with archivus but has no secret/);
  });

  it('reports YAML syntax errors with line and column', async () => {
    const issues = await issuesOf('sources:\n  a: [1\nrules: :\n');
    expect(issues[0]).toMatch(/^relay\.config\.yaml:\d+:\d+ /);
  });

  it('reports a bad duration in words', async () => {
    const issues = await issuesOf(minimal + 'delivery: { timeout: soon }\n');
    expect(issues).toEqual([expect.stringMatching(/delivery\.timeout: expected a duration like 250ms/)]);
  });

  it('reports plugin option errors at their key path', async () => {
    const yaml = minimal.replace('- use: log', '- use: slack\n        with: { text: hi }');
    const issues = await issuesOf(yaml);
    expect(issues.join('\n')).toMatch(/rules\[0\]\.actions\[0\]\.with: missing required key "url"/);
  });

  it('reports a broken template with its line', async () => {
    const yaml = minimal.replace('- use: log', '- use: log\n        with: { message: "{{ payload.x | nosuchfilter }}" }');
    const issues = await issuesOf(yaml);
    expect(issues[0]).toMatch(/^relay\.config\.yaml:11:\d+ rules\[0\]\.actions\[0\]\.with\.message: /);
  });

  it('merges per-rule overrides over a declared action', async () => {
    const yaml = `
sources:
  a: { path: /a, verify: { scheme: archivus, secret: x } }
actions:
  note: { use: log, with: { message: base, level: warn } }
rules:
  - name: r
    on: x
    actions:
      - use: note
        with: { message: "override {{ event.id }}" }
`;
    const config = await loadYaml(yaml);
    const [action] = config.actions.byRule.get('r')!;
    expect(action).toMatchObject({ action: 'note', plugin: 'log' });
    expect(action!.options).toMatchObject({ message: 'override {{ event.id }}', level: 'warn' });
  });
});

describe('reserved paths', () => {
  it("a source cannot take Relay's own endpoints", async () => {
    for (const path of ['/metrics', '/admin/events', '/healthz']) {
      const yaml = minimal.replace('path: /webhooks/archivus', `path: ${path}`);
      await expect(loadYaml(yaml)).rejects.toThrow(/is reserved for Relay's own endpoints/);
    }
  });
});

// Issue 14 item 2: `serve` logs config.warnings at start, `validate` prints them.
describe('a rule whose actions are all off', () => {
  it('is a warning naming the rule', async () => {
    const config = await loadYaml(`${minimal.replace('- use: log', '- use: log\n        enabled: false')}`);
    expect(config.warnings.map(formatIssue)).toContainEqual(
      expect.stringMatching(/rules\[0\]\.actions: every action of rule "all" is off \(enabled: false\): its events are stored with status "off"/),
    );
  });

  it('is not one when one action is on', async () => {
    const config = await loadYaml(minimal);
    expect(config.warnings.map(formatIssue).join('\n')).not.toMatch(/is off/);
  });
});
