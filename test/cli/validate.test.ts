// `relay validate` as users run it: the built CLI in a child process.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { minimal, writeConfig } from '../helpers/config.js';

function relay(args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = spawnSync(process.execPath, ['bin/relay.js', ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
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
});
