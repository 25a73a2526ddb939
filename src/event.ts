// The event as it flows through the pipeline, after verification.

/** Header names are lower-case; a header sent several times is joined with ", ". */
export type Headers = Record<string, string>;

export interface RelayEvent {
  /** The provider's event id (or the configured id source, or a body hash). */
  id: string;
  /** The event type rules match on, e.g. `document.processed`. */
  type: string;
  /** Name of the source (key under `sources:`) that received it. */
  source: string;
  /** When Relay received it, in ms since the epoch. */
  receivedAt: number;
  headers: Headers;
  /** The exact bytes received: signatures and `forward` use these, never re-serialised JSON. */
  rawBody: Buffer;
  /** The parsed JSON payload. */
  payload: unknown;
}

/** What templates see: `{{ payload.data.x }}`, `{{ headers['x-y'] }}`, `{{ event.id }}`. */
export interface TemplateContext {
  payload: unknown;
  headers: Headers;
  event: { id: string; type: string; source: string; receivedAt: string };
  /** Only in batched deliveries: every event of the batch, oldest first. */
  events?: TemplateContext[];
}

export function templateContext(event: RelayEvent): TemplateContext {
  return {
    payload: event.payload,
    headers: event.headers,
    event: {
      id: event.id,
      type: event.type,
      source: event.source,
      receivedAt: new Date(event.receivedAt).toISOString(),
    },
  };
}
