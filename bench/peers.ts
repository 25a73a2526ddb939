// adnanh/webhook, the Go server a user might run instead: it checks the
// Archivus HMAC with a trigger rule and runs a command per hook. Only when
// the `webhook` binary is on PATH (Debian: `apt-get install webhook`).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The binary's version line, or undefined when it is not installed. */
export function webhookVersion(): string | undefined {
  const r = spawnSync('webhook', ['-version'], { encoding: 'utf8' });
  return r.error ? undefined : r.stdout.trim() || r.stderr.trim();
}

/**
 * hooks.json for /webhooks/archivus: the signature must match (else 401, not
 * webhook's default 200 "rules were not satisfied"), then it runs /bin/true,
 * the cheapest command there is, and answers without waiting for it.
 */
export function webhookArgs(dir: string, secret: string): string[] {
  const hooks = join(dir, 'hooks.json');
  writeFileSync(
    hooks,
    JSON.stringify([
      {
        id: 'archivus',
        'execute-command': '/bin/true',
        'response-message': '{"status":"ok"}',
        'trigger-rule-mismatch-http-response-code': 401,
        'trigger-rule': {
          match: { type: 'payload-hmac-sha256', secret, parameter: { source: 'header', name: 'X-Archivus-Signature' } },
        },
      },
    ]),
  );
  return ['-ip', '127.0.0.1', '-port', '{PORT}', '-hooks', hooks, '-urlprefix', 'webhooks'];
}
