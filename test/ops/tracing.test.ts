// Traces end to end: a real Relay process exporting OTLP/HTTP to a receiver
// in this test (plain node:http, decoding the JSON export), a forward target
// that fails once, and the links between what each saw: one trace per event,
// verify and match under ingest, each attempt under ingest, and the forward
// receiver's traceparent naming the attempt span that sent it.

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { endpoint, format, parse } from '../../src/ops/tracing.js';
import { tempDir, writeConfig } from '../helpers/config.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { postArchivus, startRelay, waitFor, type RelayProcess } from '../helpers/relay-process.js';
import { storageFixtures } from '../helpers/storage.js';

const SECRET = 'trace-secret';
const fixtures = await storageFixtures();

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string }>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: OtlpValue }> };
    scopeSpans: Array<{
      spans: Array<Omit<OtlpSpan, 'attributes' | 'links'> & { attributes?: Array<{ key: string; value: OtlpValue }>; links?: OtlpSpan['links'] }>;
    }>;
  }>;
}

const value = (v: OtlpValue): unknown => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue);

/** An OTLP/HTTP collector stand-in: records every span of every JSON export. */
async function startCollector() {
  const spans: OtlpSpan[] = [];
  const services = new Set<unknown>();
  const contentTypes = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      contentTypes.add(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
      for (const rs of body.resourceSpans) {
        for (const a of rs.resource.attributes) if (a.key === 'service.name') services.add(value(a.value));
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              ...s,
              attributes: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, value(a.value)])),
              links: s.links ?? [],
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    services,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const config = (target: string, storage: string) => `${storage}
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} } }
delivery: { retry: { attempts: 3, initialDelay: 50ms, maxDelay: 100ms } }
rules:
  - name: fwd
    on: "**"
    actions:
      - use: forward
        name: app
        with: { url: "${target}/in" }
`;

describe('tracing over OTLP/HTTP', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close();
    for (const fx of fixtures) await fx.cleanup();
  });

  it.each(fixtures)('one trace per event on $name: ingest → verify, match; each attempt under ingest; traceparent forwarded', async (fx) => {
    const collector = await startCollector();
    closers.push(collector.close);
    // The first attempt of each event fails: two attempt spans per trace.
    const seen = new Map<string, number>();
    const app: Receiver = await startReceiver((req) => {
      const id = (JSON.parse(req.text) as { id: string }).id;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      return { status: seen.get(id) === 1 ? 503 : 200 };
    });
    closers.push(app.close);
    const relay: RelayProcess = await startRelay(writeConfig(config(app.url, fx.section())), {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_SERVICE_NAME: 'relay-under-test',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    closers.push(() => relay.stop());

    for (const id of ['t-1', 't-2']) {
      const res = await postArchivus(`${relay.url}/webhooks/archivus`, JSON.stringify({ id, type: 'document.processed' }), SECRET, {
        // A sender's own traceparent is not passed on: the receiver sees the attempt's.
        traceparent: '00-11111111111111111111111111111111-2222222222222222-01',
      });
      expect(res.status).toBe(202);
    }
    await app.waitForRequests(4, 30_000);
    const traces = await waitFor(() => {
      const ingests = collector.spans.filter((s) => s.name === 'relay.ingest');
      const attempts = collector.spans.filter((s) => s.name === 'relay.deliver');
      return ingests.length === 2 && attempts.length === 4 && collector.spans.length === 10 ? ingests : null;
    }, 'ten spans to be exported', 30_000);

    expect(collector.services).toEqual(new Set(['relay-under-test']));
    expect([...collector.contentTypes]).toEqual(['POST /v1/traces application/json']);
    expect(new Set(traces.map((t) => t.traceId)).size).toBe(2);
    for (const ingest of traces) {
      const id = ingest.attributes['relay.event.id'] as string;
      const inTrace = collector.spans.filter((s) => s.traceId === ingest.traceId);
      expect(inTrace.map((s) => s.name).sort()).toEqual(['relay.deliver', 'relay.deliver', 'relay.ingest', 'relay.match', 'relay.verify']);
      expect(ingest.parentSpanId ?? '').toBe('');
      expect(ingest.attributes).toMatchObject({ 'relay.source': 'archivus', 'relay.event.type': 'document.processed', 'http.response.status_code': 202 });
      for (const child of inTrace.filter((s) => s !== ingest)) expect(child.parentSpanId).toBe(ingest.spanId);
      expect(inTrace.find((s) => s.name === 'relay.match')!.attributes).toMatchObject({ 'relay.rules.matched': 1, 'relay.deliveries': 1 });

      const attempts = inTrace.filter((s) => s.name === 'relay.deliver').sort((a, b) => Number(a.attributes['relay.attempt']) - Number(b.attributes['relay.attempt']));
      expect(attempts.map((a) => [a.attributes['relay.attempt'], a.attributes['relay.outcome'], a.attributes['http.response.status_code']])).toEqual([
        [1, 'retry', 503],
        [2, 'delivered', 200],
      ]);
      // What the forward target received names the attempt span that sent it.
      const received = app.requests.filter((r) => (JSON.parse(r.text) as { id: string }).id === id).map((r) => r.headers.traceparent);
      expect(received).toEqual(attempts.map((a) => `00-${ingest.traceId}-${a.spanId}-01`));
    }
  }, 120_000);

  it('off, not one OpenTelemetry module is loaded, even while events flow', async () => {
    // A module-resolution hook in the Relay process reports every @opentelemetry import.
    const dir = tempDir();
    writeFileSync(
      join(dir, 'hook.mjs'),
      `export async function resolve(specifier, context, next) {
        if (specifier.startsWith('@opentelemetry/')) process.stderr.write('otel-import ' + specifier + '\\n');
        return next(specifier, context);
      }\n`,
    );
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hook.mjs', import.meta.url);\n`);
    const app = await startReceiver({ status: 200 });
    closers.push(app.close);
    const run = async (env: NodeJS.ProcessEnv) => {
      const relay = await startRelay(writeConfig(config(app.url, fixtures[0]!.section())), { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}`, ...env });
      closers.push(() => relay.stop());
      const before = app.requests.length;
      await postArchivus(`${relay.url}/webhooks/archivus`, JSON.stringify({ id: `lazy-${before}`, type: 'x' }), SECRET);
      await app.waitForRequests(before + 1, 30_000);
      return relay.output();
    };
    const off = await run({});
    expect(off).toContain('relay listening');
    expect(off).not.toContain('otel-import');
    expect(app.requests.at(-1)!.headers.traceparent).toBeUndefined();
    // The same hook sees the SDK load when tracing is on: the check above can fail.
    const on = await run({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(on).toContain('otel-import @opentelemetry/sdk-trace-base');
  }, 120_000);

  it('is off without OTEL_* variables, and honours the standard switches', () => {
    expect(endpoint({})).toBeUndefined();
    expect(endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })).toBe('http://c:4318/v1/traces');
    expect(endpoint({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom' })).toBe('http://c:4318/custom');
    expect(endpoint({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe('http://localhost:4318/v1/traces');
    expect(endpoint({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toBeUndefined();
    expect(endpoint({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBeUndefined();
  });

  it('reads and writes W3C traceparent', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(format(parse(tp)!)).toBe(tp);
    expect(parse('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toBeUndefined();
    expect(parse('garbage')).toBeUndefined();
  });
});
