// `relay listen` end to end: a deployed Relay (a real process), the listener
// (a second real process, as a developer runs it), and the developer's app (a
// real receiver), all on loopback. The listener's connection runs through a
// proxy the test cuts, to show a dropped stream resumes with nothing missed
// and nothing sent twice.

import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { tempDir, writeConfig } from '../helpers/config.js';
import { archivusSignature, postArchivus, startRelay, waitFor, type RelayProcess } from '../helpers/relay-process.js';
import { storageFixtures } from '../helpers/storage.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const SECRET = 'listen-secret';
const TOKEN = 'listen-admin-token-0123456789';
const fixtures = await storageFixtures();
// Two cold Node processes per test, and up to three: seconds each on a machine shared by several test runs.
const SLOW = 180_000;

const config = (storage: string) => `${storage}
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} } }
  other: { path: /webhooks/other, verify: { scheme: archivus, secret: ${SECRET} } }
rules:
  - name: processed
    on: document.processed
    actions: [{ use: log }]
`;

const event = (id: string, type = 'document.processed') => JSON.stringify({ id, type, data: { n: id } });

interface Listener {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
  exited: Promise<number | null>;
}

function listen(args: string[], env: NodeJS.ProcessEnv = { RELAY_ADMIN_TOKEN: TOKEN }): Listener {
  const child = spawn(process.execPath, ['bin/relay.js', 'listen', ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

describe.each(fixtures)('relay listen on $name', (fx) => {
  const relays: RelayProcess[] = [];
  const receivers: Receiver[] = [];
  const listeners: Listener[] = [];
  const proxies: TcpProxy[] = [];
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.stop()));
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(relays.map((r) => r.stop()));
    await Promise.all(receivers.map((r) => r.close()));
    await fx.cleanup();
  });

  const setup = async () => {
    const relay = await startRelay(writeConfig(config(fx.section(tempDir()))), { RELAY_ADMIN_TOKEN: TOKEN });
    relays.push(relay);
    const app = await startReceiver({ status: 204 });
    receivers.push(app);
    return { relay, app };
  };
  const start = (args: string[], env?: NodeJS.ProcessEnv) => {
    const l = listen(args, env);
    listeners.push(l);
    return l;
  };
  const post = async (relay: RelayProcess, id: string, path = '/webhooks/archivus', type?: string) => {
    const res = await postArchivus(`${relay.url}${path}`, event(id, type), SECRET);
    expect(res.status).toBe(202);
  };
  const ids = (app: Receiver) => app.requests.map((r) => (JSON.parse(r.text) as { id: string }).id);

  it('replays each new event to the local URL with its original headers and bytes, one line each', async () => {
    const { relay, app } = await setup();
    await post(relay, 'before-listen'); // not replayed: listening starts with the next event
    const l = start(['--from', relay.url, '--to', `${app.url}/webhooks`]);
    await waitFor(() => l.stderr().includes('listening on'), 'the listener to connect', 30_000);

    await post(relay, 'a-1');
    await post(relay, 'a-2', '/webhooks/other', 'document.failed');
    const got = await app.waitForRequests(2, 20_000);
    expect(ids(app)).toEqual(['a-1', 'a-2']);
    expect(got[0]!.url).toBe('/webhooks');
    expect(got[0]!.text).toBe(event('a-1'));
    // The signature is passed on, so the local app verifies it as it would the provider's.
    expect(got[0]!.headers['x-archivus-signature']).toBe(archivusSignature(event('a-1'), SECRET));
    expect(got[0]!.headers['content-type']).toBe('application/json');

    const lines = await waitFor(() => {
      const out = l.stdout().trim().split('\n').filter(Boolean);
      return out.length === 2 ? out : null;
    }, 'two printed lines');
    expect(lines[0]).toMatch(/#\d+ {2}archivus {2}document\.processed {2}a-1 {2}→ 204 \(\d+ ms\)$/);
    expect(lines[1]).toMatch(/other {2}document\.failed {2}a-2 {2}→ 204/);
  }, SLOW);

  it('a dropped connection resumes with Last-Event-ID: nothing missed, nothing twice', async () => {
    const { relay, app } = await setup();
    const proxy = await startTcpProxy(relay.port);
    proxies.push(proxy);
    const l = start(['--from', `http://127.0.0.1:${proxy.port}`, '--to', `${app.url}/in`]);
    await waitFor(() => l.stderr().includes('listening on'), 'the listener to connect', 30_000);

    for (const id of ['d-1', 'd-2', 'd-3']) await post(relay, id);
    await app.waitForRequests(3, 20_000);

    // The laptop drops off: the stream is cut and reconnects are refused while events keep arriving.
    proxy.block();
    for (const id of ['d-4', 'd-5', 'd-6']) await post(relay, id);
    await waitFor(() => proxy.dropped() > 0, 'a refused reconnect');
    expect(app.requests).toHaveLength(3);

    proxy.unblock();
    await app.waitForRequests(6, 20_000);
    await post(relay, 'd-7'); // and the live tail continues after the backlog
    await app.waitForRequests(7, 20_000);
    expect(ids(app)).toEqual(['d-1', 'd-2', 'd-3', 'd-4', 'd-5', 'd-6', 'd-7']);
    expect(l.stderr()).toMatch(/connection lost .*reconnecting/);
    expect(l.stderr()).toMatch(/listening on .* after seq \d+/);

    // Killed and started again with --after, the listener picks up where it stopped.
    await l.stop();
    const lastSeq = Number(/#(\d+) {2}\S+ {2}\S+ {2}d-7/.exec(l.stdout())![1]);
    await post(relay, 'd-8');
    const again = start(['--from', relay.url, '--to', `${app.url}/in`, '--after', String(lastSeq)]);
    // A generous deadline: a cold Node start is seconds on a busy machine.
    await waitFor(() => again.stdout().includes('d-8'), 'the line for d-8', 30_000);
    expect(ids(app)).toEqual(['d-1', 'd-2', 'd-3', 'd-4', 'd-5', 'd-6', 'd-7', 'd-8']);
  }, SLOW);

  it('--source and --rule narrow the stream', async () => {
    const { relay, app } = await setup();
    const bySource = await startReceiver({ status: 200 });
    receivers.push(bySource);
    const l1 = start(['--from', relay.url, '--to', app.url, '--rule', 'processed'], { RELAY_READ_TOKEN: TOKEN });
    const l2 = start(['--from', relay.url, '--to', bySource.url, '--source', 'other']);
    await waitFor(() => l1.stderr().includes('listening on') && l2.stderr().includes('listening on'), 'both listeners to connect', 30_000);

    await post(relay, 'f-1'); // archivus, matches `processed`
    await post(relay, 'f-2', '/webhooks/archivus', 'document.failed'); // matches nothing
    await post(relay, 'f-3', '/webhooks/other'); // other, matches `processed`
    await post(relay, 'f-4', '/webhooks/other', 'document.failed');
    await post(relay, 'f-5'); // a marker: once both saw their last event, nothing else is coming
    await app.waitForRequests(3, 20_000);
    await bySource.waitForRequests(2, 20_000);
    expect(ids(app)).toEqual(['f-1', 'f-3', 'f-5']);
    expect(ids(bySource)).toEqual(['f-3', 'f-4']);
  }, SLOW);

  it('refuses clearly: no token, a wrong token, an unknown source', async () => {
    const { relay, app } = await setup();
    // Started together: each is a cold Node start.
    const none = start(['--from', relay.url, '--to', app.url], {});
    const wrong = start(['--from', relay.url, '--to', app.url], { RELAY_ADMIN_TOKEN: 'not-the-token-at-all' });
    const typo = start(['--from', relay.url, '--to', app.url, '--source', 'archivos']);
    expect(await none.exited).toBe(1);
    expect(none.stderr()).toContain('set RELAY_READ_TOKEN (or RELAY_ADMIN_TOKEN)');

    expect(await wrong.exited).toBe(1);
    expect(wrong.stderr()).toContain('answered 401: invalid token');

    expect(await typo.exited).toBe(1);
    expect(typo.stderr()).toContain('answered 400: no source named "archivos"');
  }, SLOW);
});
