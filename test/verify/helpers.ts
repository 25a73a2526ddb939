// Builds VerifyRequests the way ingest does: lower-case names, every value kept.

import type { VerifyRequest } from '../../src/verify/types.js';

export const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

export function request(headers: Record<string, string | string[]>, body: Buffer | string, now = NOW): VerifyRequest {
  const lower: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    lower[name.toLowerCase()] = [...(lower[name.toLowerCase()] ?? []), ...(Array.isArray(value) ? value : [value])];
  }
  return { headers: lower, rawBody: Buffer.isBuffer(body) ? body : Buffer.from(body), now };
}

/** Finds a header in sign() output regardless of case. */
export function headerName(headers: Record<string, string>, lower: string): string {
  const name = Object.keys(headers).find((h) => h.toLowerCase() === lower);
  if (!name) throw new Error(`no ${lower} in ${Object.keys(headers).join(', ')}`);
  return name;
}
