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
});
