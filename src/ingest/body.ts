// Reads the request body as raw bytes (signatures need the exact bytes) and
// parses the payload: JSON, JSON sent as text/plain (AWS SNS), and form
// bodies with a `payload` field (GitHub) or plain fields (Slack commands).

import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
import { nestsDeeperThan } from './bounds.js';

export class BodyTooLarge extends Error {}

export async function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await getRawBody(req, { limit, length: req.headers['content-length'] });
  } catch (err) {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') throw new BodyTooLarge('body is larger than the limit');
    throw err;
  }
}

export type Parsed = { ok: true; payload: unknown } | { ok: false; reason: string };

/** `maxDepth` bounds the nesting of objects and arrays (src/ingest/bounds.ts); unbounded without it. */
export function parsePayload(raw: Buffer, contentType: string | undefined, maxDepth = Infinity): Parsed {
  const [mime = '', ...params] = (contentType ?? '').toLowerCase().split(';').map((s) => s.trim());
  const charset = params.find((p) => p.startsWith('charset='))?.slice(8).replace(/"/g, '') || 'utf-8';
  let text: string;
  try {
    text = new TextDecoder(charset, { fatal: true }).decode(raw);
  } catch {
    return { ok: false, reason: `body is not valid ${charset}` };
  }
  if (mime === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(text);
    const payload = form.get('payload');
    if (payload !== null) return json(payload, maxDepth);
    return { ok: true, payload: Object.fromEntries(form) };
  }
  // Anything else must be JSON, whatever it says it is: some senders say text/plain.
  return json(text, maxDepth);
}

function json(text: string, maxDepth: number): Parsed {
  // Checked on the text first: parsing a payload too deep is already the harm.
  if (maxDepth !== Infinity && nestsDeeperThan(text, maxDepth)) return { ok: false, reason: `payload is nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, payload: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
}
