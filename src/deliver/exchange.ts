// What an attempt sent and what the destination answered, as a plugin reports
// them (src/plugin.ts), bounded and masked before they are stored with the
// attempt: a plugin may hand over a whole answer, the store keeps a few KiB,
// and no credential lands in the attempts table.

import { maskHeaders, MASK } from '../admin/operations.js';
import type { DeliveryRequest, DeliveryResponse } from '../plugin.js';

export const EXCHANGE_LIMITS = {
  /** Headers kept per request or response. */
  headers: 20,
  /** Characters kept of each header value. */
  headerValue: 512,
  /** Characters kept of a response body. */
  responseBody: 4096,
  /** Characters kept of a request body (a rendered template or a batch). */
  requestBody: 16_384,
} as const;

/** Response headers that carry credentials, besides those maskHeaders knows. */
const RESPONSE_SECRETS = ['set-cookie', 'www-authenticate', 'proxy-authenticate'];
const SECRET_PARAM = /token|key|secret|sig|pass|auth|code/i;

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

function boundHeaders(headers: unknown, extra: readonly string[]): Record<string, string> | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers).slice(0, EXCHANGE_LIMITS.headers)) {
    if (typeof value === 'string') kept[name.toLowerCase()] = cut(value, EXCHANGE_LIMITS.headerValue);
  }
  return maskHeaders(kept, extra);
}

/** The response as stored: bounded and masked; undefined when it is not one. */
export function storedResponse(r: DeliveryResponse | undefined): DeliveryResponse | undefined {
  if (r === undefined || r === null || typeof r !== 'object' || !Number.isInteger(r.status)) return undefined;
  const headers = boundHeaders(r.headers, RESPONSE_SECRETS);
  return {
    status: r.status,
    ...(typeof r.statusText === 'string' && { statusText: cut(r.statusText, 100) }),
    ...(headers && { headers }),
    ...(typeof r.body === 'string' && r.body !== '' && { body: cut(r.body, EXCHANGE_LIMITS.responseBody) }),
  };
}

/** The request as stored: bounded, credentials masked; undefined when it is not one. */
export function storedRequest(r: DeliveryRequest | undefined): DeliveryRequest | undefined {
  if (r === undefined || r === null || typeof r !== 'object' || typeof r.method !== 'string' || typeof r.url !== 'string') return undefined;
  const headers = boundHeaders(r.headers, []);
  return {
    method: r.method.slice(0, 16),
    url: cut(redactUrl(r.url), 2048),
    ...(headers && { headers }),
    ...(typeof r.body === 'string' && { body: cut(r.body, EXCHANGE_LIMITS.requestBody) }),
  };
}

/** A URL without its password, and with secret-looking query values masked. */
export function redactUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return value;
  }
  if (url.password) url.password = MASK;
  for (const name of [...url.searchParams.keys()]) if (SECRET_PARAM.test(name)) url.searchParams.set(name, MASK);
  return url.toString();
}
