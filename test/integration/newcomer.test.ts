// Issue 14 "Done when": a newcomer's path, following only the README and
// docs, in a folder outside the checkout: `relay init` a GitHub rule that
// forwards to a local service, a custom plugin from `relay init plugin`, a
// signed event, a failing delivery, `relay replay --dead` without secrets.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/config.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startRelay, waitFor, type RelayProcess } from '../helpers/relay-process.js';

const BIN = resolve('bin/relay.js');
const SECRET = 'newcomer-secret';

let relay: RelayProcess | undefined;
let receiver: Receiver | undefined;
afterAll(async () => {
  await relay?.stop();
  await receiver?.close();
});

function cli(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  // No secrets in the environment: the commands that only read need none.
  const { GITHUB_WEBHOOK_SECRET: _, RELAY_CONFIG: __, ...base } = process.env;
  const res = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...base, ...env } });
  return { code: res.status, out: res.stdout + res.stderr };
}

describe('a newcomer, from relay init to a replayed delivery', () => {
  it('walks the documented path end to end', async () => {
    const dir = tempDir('relay-newcomer-');
    expect(dir.startsWith(resolve('.'))).toBe(false);
    expect(cli(dir, ['init', '--providers', 'github', '--actions', 'forward', '-o', 'relay.config.yaml']).code).toBe(0);
    expect(cli(dir, ['init', 'plugin', 'shout']).code).toBe(0);
    receiver = await startReceiver({ status: 400, body: 'not yet' });
    const config = join(dir, 'relay.config.yaml');
    // The plugin guide: list the plugin, use it in a rule.
    writeFileSync(config, `plugins: [./plugins/shout/index.ts]\n${readFileSync(config, 'utf8')}`);
    appendFileSync(config, `
  - name: pull-requests
    on: pull_request.*
    source: github
    actions:
      - use: shout
        with: { url: "${receiver.url}/shout", text: "PR {{ payload.number }}" }
`);
    const validated = cli(dir, ['validate']);
    expect(validated.out).toMatch(/relay serve will need: GITHUB_WEBHOOK_SECRET/);
    expect(validated.code).toBe(0);

    relay = await startRelay(config, { GITHUB_WEBHOOK_SECRET: SECRET, FORWARD_ENABLED: 'true', FORWARD_URL: `${receiver.url}/events` });
    const body = JSON.stringify({ action: 'opened', number: 7, pull_request: { title: 'x' } });
    const delivery = randomUUID();
    const res = await fetch(`${relay.url}/webhooks/github`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': delivery, 'x-hub-signature-256': await sign(SECRET, body) },
      body,
    });
    expect(res.status).toBe(202);
    // The id Relay answers with (for GitHub, a hash of the signed body: the delivery header is not signed).
    const { id } = (await res.json()) as { id: string };

    // 400 is not retried: both deliveries are dead letters.
    await receiver.waitForRequests(2);
    let last = '';
    const dead = await waitFor(() => {
      const shown = cli(dir, ['events', 'show', `github/${id}`, '--json']);
      last = shown.out;
      const view = shown.code === 0 ? (JSON.parse(shown.out) as { status: string; deliveries: Array<{ status: string }> }) : undefined;
      return view?.deliveries.length === 2 && view.deliveries.every((d) => d.status === 'dead') ? view : undefined;
    }, 'both deliveries dead').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}; last answer: ${last.slice(0, 2000)}`);
    });
    expect(dead.status).toBe('dead');

    receiver.respond({ status: 200, body: 'ok' });
    const replayed = cli(dir, ['replay', '--dead']);
    expect(replayed.out).toMatch(/Replayed 2 deliveries of 1 event/);
    const requests = await receiver.waitForRequests(4);
    expect(requests.map((r) => r.url).sort()).toEqual(['/events', '/events', '/shout', '/shout']);
    expect(JSON.parse(requests.find((r, i) => i >= 2 && r.url === '/shout')!.text)).toEqual({ text: 'PR 7' });
    await waitFor(() => {
      const shown = cli(dir, ['events', 'show', `github/${id}`, '--json']);
      return shown.code === 0 && (JSON.parse(shown.out) as { status: string }).status === 'delivered' ? true : undefined;
    }, 'the event delivered after the replay');
  }, 180_000);
});
