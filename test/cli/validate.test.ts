// `relay validate` as users run it: the built CLI in a child process.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, formatIssue } from '../../src/errors.js';
import { minimal, tempDir, writeConfig } from '../helpers/config.js';

function relay(args: string[], env: NodeJS.ProcessEnv = {}) {
  // Secrets the shell running the tests may export are not the test's to rely on.
  const { ARCHIVUS_WEBHOOK_SECRET: _, GITHUB_WEBHOOK_SECRET: __, ...base } = process.env;
  const res = spawnSync(process.execPath, ['bin/relay.js', ...args], { env: { ...base, ...env }, encoding: 'utf8' });
  return { code: res.status, out: res.stdout + res.stderr };
}

describe('relay validate', () => {
  it('exits 0 and prints OK on the shipped config', () => {
    const { code, out } = relay(['validate'], { ARCHIVUS_WEBHOOK_SECRET: 'x' });
    expect(out).toMatch(/^OK relay\.config\.yaml: 1 source\(s\), 5 rule\(s\)/m);
    expect(code).toBe(0);
  });

  it('exits non-zero with line:col errors on a broken config', () => {
    const file = writeConfig(minimal.replace('- use: log', '- use: slak').replace('on: "**"', 'on: "**"\n    colour: red'));
    const { code, out } = relay(['validate', '-c', file]);
    expect(code).toBe(1);
    expect(out).toMatch(/relay\.config\.yaml:\d+:\d+ rules\[0\]\.colour: unknown key "colour"/);
    expect(out).toMatch(/relay\.config\.yaml:\d+:\d+ rules\[0\]\.actions\[0\]\.use: unknown action "slak"/);
    expect(out).toMatch(/2 error\(s\)/);
  });

  it('warns about a source that accepts unsigned events', () => {
    const file = writeConfig(minimal.replace('{ scheme: archivus, secret: s3cret }', '{ scheme: none }'));
    const { code, out } = relay(['validate', '-c', file]);
    expect(code).toBe(0);
    expect(out).toMatch(/warning: sources\.archivus\.verify\.scheme: source "archivus" accepts unsigned events/);
  });

  it('relay test prints the dry run', () => {
    const { code, out } = relay(['test', 'config/examples/document.failed.json'], { ARCHIVUS_WEBHOOK_SECRET: 'x' });
    expect(code).toBe(0);
    expect(out).toMatch(/✓ failures-to-email/);
    expect(out).toMatch(/subject: Archivus: document doc_def456 failed/);
  });

  const transformed = (expr: string) =>
    writeConfig(
      minimal.replace(
        '- use: log',
        `- use: forward\n        with:\n          url: http://127.0.0.1:9/in\n          transform:\n            jsonata: '${expr}'`,
      ),
    );

  it('relay validate locates a broken JSONata transform: file:line:col, key path and character (issue 15 item 5)', () => {
    const { code, out } = relay(['validate', '-c', transformed('{"id": $event.id, "tags": data.document.(}')]);
    expect(code).toBe(1);
    expect(out).toMatch(/relay\.config\.yaml:14:\d+ rules\[0\]\.actions\[0\]\.with\.transform\.jsonata: invalid JSONata at character \d+ \(near "}"\)/);
  });

  it('relay test renders the transform: the body that would be sent', () => {
    const file = transformed('{"doc": data.document_id, "why": data.error, "type": $event.type}');
    const { code, out } = relay(['test', '-c', file, 'config/examples/document.failed.json']);
    expect(code).toBe(0);
    expect(out).toContain('transform: {"doc":"doc_def456","why":"Processing failed: Invalid file format","type":"document.failed"}');
  });

  // Issue 14 item 1: commands that only parse the config or read the store need no secrets.
  describe('with secrets unset', () => {
    it('validate passes and names the variables relay serve will need', () => {
      const { code, out } = relay(['validate']);
      expect(out).toMatch(/warning: sources\.archivus\.verify\.secrets\[0\]: environment variable ARCHIVUS_WEBHOOK_SECRET is not set; relay serve will need it/);
      expect(out).toMatch(/^relay serve will need: ARCHIVUS_WEBHOOK_SECRET$/m);
      expect(out).toMatch(/^OK relay\.config\.yaml/m);
      expect(code).toBe(0);
    });

    it('validate still reports real errors beside the unset variables', () => {
      const file = writeConfig(minimal.replace('secret: s3cret', 'secret: "${NOT_SET_HERE}"').replace('- use: log', '- use: slak'));
      const { code, out } = relay(['validate', '-c', file]);
      expect(code).toBe(1);
      expect(out).toMatch(/unknown action "slak"/);
      expect(out).toMatch(/warning: .*NOT_SET_HERE is not set/);
      expect(out).toMatch(/^1 error\(s\)/m);
    });

    it('a value that fails its schema only because its variable is unset is not an error', () => {
      const file = writeConfig(`${minimal}
actions:
  fwd:
    use: forward
    enabled: \${FWD_ON}
    with: { url: "\${FWD_URL}" }
`);
      const { code, out } = relay(['validate', '-c', file]);
      expect(out).toMatch(/relay serve will need: FWD_ON, FWD_URL/);
      expect(code).toBe(0);
    });

    it('relay test runs the dry run', () => {
      const { code, out } = relay(['test', 'config/examples/document.failed.json']);
      expect(out).toMatch(/✓ failures-to-email/);
      expect(code).toBe(0);
    });

    it('relay events reads the store', () => {
      const dir = tempDir();
      const file = writeConfig(`storage: { driver: sqlite, path: ./relay.db }\n${minimal.replace('secret: s3cret', 'secret: "${NOT_SET_HERE}"')}`, dir);
      const { code, out } = relay(['events', '-c', file]);
      expect(out).toMatch(/No events match\./);
      expect(code).toBe(0);
    });

    it('relay serve still refuses to start without them', () => {
      const file = writeConfig(minimal.replace('secret: s3cret', 'secret: "${NOT_SET_HERE}"'));
      const { code, out } = relay(['serve', '-c', file], { PORT: '0' });
      expect(code).toBe(1);
      expect(out).toMatch(/NOT_SET_HERE is not set/);
    });
  });
});

// Issue 14 item 3: the typos that took three runs, in one.
describe('every error in one run', () => {
  const typos = `
sources:
  github:
    path: webhooks/github
    verify: { scheme: github, secret: s3cret }
    evnt: { type: $.x }
rules:
  - name: one
    on: "**"
    when: { path: $.x, equal: 3 }
    actions:
      - use: forwrd
        with: { url: http://x }
      - use: log
        with: { mesage: "hi", level: warning }
  - name: two
    on: push
    when: { path: "$.[bad", equals: 1 }
    actions:
      - use: log
        with: { message: "{{ payload.x | upcase }" }
`;

  async function errorsOf(yaml: string): Promise<string[]> {
    const err = await loadConfig(writeConfig(yaml), { env: {} }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map(formatIssue);
  }

  it('reports schema, JSONPath, plugin name, plugin option and template errors together, one line each', async () => {
    const lines = await errorsOf(typos);
    const expected = [
      /sources\.github\.evnt: unknown key "evnt"; did you mean "event"\?/,
      /sources\.github\.path: must start with "\/"$/,
      /rules\[0\]\.when\.equal: unknown key "equal"; did you mean "equals"\?/,
      /rules\[0\]\.actions\[0\]\.use: unknown action "forwrd"; did you mean "forward"\?/,
      /rules\[0\]\.actions\[1\]\.with\.mesage: unknown key "mesage"; did you mean "message"\?/,
      /rules\[0\]\.actions\[1\]\.with\.level: "warning" is not one of: debug, info, warn, error; did you mean "warn"\?/,
      /rules\[1\]\.when\.path: invalid JSONPath "\$\.\[bad": unexpected "\[" at character 3/,
      /rules\[1\]\.actions\[0\]\.with\.message: invalid template/,
    ];
    for (const re of expected) expect(lines.filter((l) => re.test(l)), `${re} in\n${lines.join('\n')}`).toHaveLength(1);
    expect(lines).toHaveLength(expected.length);
    for (const l of lines) expect(l).not.toMatch(/oneOf|anyOf|\^|\\x|\n/);
  });

  it('an operator typo is one line, not a line per condition form', async () => {
    const lines = await errorsOf(minimal.replace('on: "**"', 'on: "**"\n    when: { path: $.a, equal: 1 }'));
    expect(lines).toEqual([expect.stringMatching(/rules\[0\]\.when\.equal: unknown key "equal"; did you mean "equals"\?/)]);
  });

  it('a duration in the wrong form says what form, not a regex', async () => {
    const lines = await errorsOf(`${minimal}delivery: { timeout: 10 seconds }\n`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/delivery\.timeout: expected .*duration/);
  });
});

// Issue 14 item 6: --version, RELAY_CONFIG, HOST.
describe('environment and version', () => {
  it('--version prints package.json\'s version', () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const { code, out } = relay(['--version']);
    expect(out.trim()).toBe(version);
    expect(code).toBe(0);
  });

  it('RELAY_CONFIG is the default config file', () => {
    const file = writeConfig(minimal.replace('- use: log', '- use: slak'));
    const { code, out } = relay(['validate'], { RELAY_CONFIG: file });
    expect(out).toContain(`error(s) in ${file}`);
    expect(code).toBe(1);
  });

  it('HOST overrides server.host, as PORT does the port', async () => {
    const config = await loadConfig(writeConfig(minimal), { env: { HOST: '127.0.0.9' } });
    expect(config.server.host).toBe('127.0.0.9');
  });
});
