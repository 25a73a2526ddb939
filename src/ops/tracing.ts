// OpenTelemetry traces, one per event: `relay.ingest` (with `relay.verify`
// and `relay.match` under it) when the event arrives, and a `relay.deliver`
// span per delivery attempt, joined to the same trace through the ingest
// span's traceparent, which is stored with the event (an attempt may run in
// another instance, or after a restart). Forward passes the attempt's
// traceparent on, so the receiver's own spans join too.
//
// Off unless the standard variables ask for it (OTEL_TRACES_EXPORTER=otlp, or
// an OTEL_EXPORTER_OTLP_*ENDPOINT). Off, startTracing returns undefined, the
// SDK is never imported, and the hot path pays one `?.` per step.

import type { Span, SpanContext } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { AttemptInfo } from '../deliver/types.js';

export interface Tracing {
  /** Opens an event's trace when a request reaches a source. */
  ingest(source: string): IngestTrace;
  /**
   * One delivery attempt's span, a child of the (first) event's ingest span;
   * the other events of a batch are linked. `traceparent` is the attempt's own.
   */
  attempt(parents: ReadonlyArray<string | undefined>, attrs: AttemptAttributes): AttemptTrace;
  /** Exports what is buffered, then stops (Relay#stop). */
  shutdown(): Promise<void>;
}

export interface IngestTrace {
  /** The ingest span's traceparent, stored with the event. */
  readonly traceparent: string;
  /** Runs `fn` under a child span named `relay.<name>`. */
  step<T>(name: 'verify' | 'match', fn: () => T, attrs?: (result: T) => Record<string, string | number | boolean>): T;
  set(attrs: Record<string, string | number | boolean>): void;
  end(status: number): void;
}

export type AttemptAttributes = Pick<AttemptInfo, 'deliveryId' | 'rule' | 'action' | 'plugin' | 'target' | 'attempt'> & {
  /** Events in the delivery (more than one when batched). */
  events: number;
};

export interface AttemptTrace {
  readonly traceparent: string;
  end(outcome: { ok: boolean; status?: number; error?: string; outcome: string }): void;
}

/** The OTel SDK, imported lazily: none of it loads while tracing is off. */
export async function startTracing(env: NodeJS.ProcessEnv, logger?: Pick<Logger, 'info' | 'warn'>): Promise<Tracing | undefined> {
  const url = endpoint(env);
  if (url === undefined) return undefined;
  const [api, base, exporter, resources] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  if (env.OTEL_EXPORTER_OTLP_PROTOCOL !== undefined && env.OTEL_EXPORTER_OTLP_PROTOCOL !== 'http/json') {
    logger?.warn({ protocol: env.OTEL_EXPORTER_OTLP_PROTOCOL }, 'tracing: Relay exports OTLP over HTTP as JSON (http/json); OTEL_EXPORTER_OTLP_PROTOCOL is ignored');
  }
  const resource = resources
    .resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'relay' })
    .merge(resources.resourceFromAttributes(parseAttributes(env.OTEL_RESOURCE_ATTRIBUTES)));
  const provider = new base.BasicTracerProvider({
    resource,
    spanProcessors: [new base.BatchSpanProcessor(new exporter.OTLPTraceExporter({ url, headers: parseAttributes(env.OTEL_EXPORTER_OTLP_HEADERS) }))],
  });
  const tracer = provider.getTracer('relay');
  logger?.info({ endpoint: url }, 'tracing: exporting spans over OTLP/HTTP');

  const { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace } = api;
  const under = (parent: SpanContext | undefined) => (parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT);

  return {
    ingest(source) {
      const span = tracer.startSpan('relay.ingest', { kind: SpanKind.SERVER, attributes: { 'relay.source': source } }, ROOT_CONTEXT);
      const ctx = trace.setSpan(ROOT_CONTEXT, span);
      return {
        traceparent: format(span.spanContext()),
        step(name, fn, attrs) {
          const child = tracer.startSpan(`relay.${name}`, {}, ctx);
          try {
            const result = fn();
            if (attrs) child.setAttributes(attrs(result));
            return result;
          } catch (err) {
            fail(child, err, SpanStatusCode.ERROR);
            throw err;
          } finally {
            child.end();
          }
        },
        set: (attrs) => void span.setAttributes(attrs),
        end(status) {
          span.setAttribute('http.response.status_code', status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        },
      };
    },
    attempt(parents, a) {
      const contexts = parents.map(parse);
      const links = contexts.slice(1).flatMap((c) => (c ? [{ context: c }] : []));
      const span = tracer.startSpan(
        'relay.deliver',
        {
          kind: SpanKind.CLIENT,
          links,
          attributes: {
            'relay.delivery.id': a.deliveryId,
            'relay.rule': a.rule,
            'relay.action': a.action,
            'relay.plugin': a.plugin,
            'relay.target': a.target,
            'relay.attempt': a.attempt,
            'relay.batch.size': a.events,
          },
        },
        under(contexts[0]),
      );
      return {
        traceparent: format(span.spanContext()),
        end(o) {
          span.setAttribute('relay.outcome', o.outcome);
          if (o.status !== undefined) span.setAttribute('http.response.status_code', o.status);
          if (!o.ok) span.setStatus({ code: SpanStatusCode.ERROR, ...(o.error !== undefined && { message: o.error }) });
          span.end();
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Where spans go, or undefined when tracing is off. OTEL_SDK_DISABLED wins;
 * an exporter list without `otlp` (`none`, `console`) is off; otherwise an
 * endpoint variable, or `otlp` named explicitly (default endpoint), turns it on.
 */
export function endpoint(env: NodeJS.ProcessEnv): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const exporters = env.OTEL_TRACES_EXPORTER?.split(',').map((s) => s.trim().toLowerCase());
  if (exporters !== undefined && !exporters.includes('otlp')) return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return `${base.replace(/\/+$/, '')}/v1/traces`;
  return exporters !== undefined ? 'http://localhost:4318/v1/traces' : undefined;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function format(c: SpanContext): string {
  return `00-${c.traceId}-${c.spanId}-${c.traceFlags.toString(16).padStart(2, '0')}`;
}

export function parse(traceparent: string | undefined): SpanContext | undefined {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  if (!m) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16), isRemote: true };
}

/** `k1=v1,k2=v2` (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS), values percent-decoded. */
function parseAttributes(list: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (list ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      out[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      // A malformed escape: skip the pair rather than fail the start-up.
    }
  }
  return out;
}

function fail(span: Span, err: unknown, code: number): void {
  span.setStatus({ code, message: err instanceof Error ? err.message : String(err) });
}
