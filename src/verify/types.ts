// One interface for every signature scheme (Hono's router/<impl> shape):
// a scheme lives in its own file beside this one and knows nothing of Koa.

import type { JsonSchema } from '../plugin.js';

export interface VerifyRequest {
  /** Lower-case header names; every value a header was sent with, in order. */
  headers: Readonly<Record<string, readonly string[]>>;
  /** The exact bytes received. Signatures are computed over these, never re-serialised JSON. */
  rawBody: Buffer;
  /** Now, in ms since the epoch (injected so tests can move time). */
  now: number;
}

export type VerifyOutcome =
  /** `secret` is the index of the secret that matched (-1 for schemes without secrets), for rotation metrics. */
  | { ok: true; secret: number }
  /** `reason` is logged and may be sent to the client: it never contains an expected signature. */
  | { ok: false; reason: string };

export interface Verifier {
  verify(req: VerifyRequest): VerifyOutcome;
}

/** What a scheme knows about the events it signs: where their type and id are. */
export interface Identity {
  type?: string;
  id?: string;
}

export interface SchemeOptionsBase {
  /** Every secret currently accepted, already read from env or secretFile. Any one may match. */
  secrets: string[];
}

export interface Scheme<Options extends SchemeOptionsBase = SchemeOptionsBase> {
  /** What a source writes after `verify: {scheme: ...}`. */
  name: string;
  description: string;
  /** JSON Schema of the scheme's own options (besides secrets), with descriptions and defaults. */
  options: JsonSchema;
  /** False for `none`, `basic` and `bearer`-less schemes; true means an empty secret list refuses to start. */
  needsSecret: boolean;
  /** Defaults for `source.event.type` / `source.event.id` as JSONPaths, e.g. `$.type`. */
  defaults?: { typePath?: string; idPath?: string };
  create(options: Options): Verifier;
  /** Type and id from headers (and payload) when the scheme defines them, e.g. GitHub. */
  identify?(req: VerifyRequest, payload: unknown): Identity;
  /**
   * Set when identify() reads the id from a header the signature does not
   * cover, so anyone holding a captured request can vary it. The dedup key is
   * then a hash of the signed body (`body`), or of the type and the body
   * (`type+body`) for a provider that sends one body under several types.
   */
  unsignedId?: 'body' | 'type+body';
  /** An answer that short-circuits the pipeline after verification (Slack's url_verification). */
  intercept?(payload: unknown): { status: number; body: unknown } | undefined;
  /** Headers that make `body` verify under this scheme: used by `relay send` and the tests. */
  sign?(body: Buffer, options: Options, now: number): Record<string, string>;
}
