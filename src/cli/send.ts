// `relay send EVENT.json --source NAME`: signs an event the way the source's
// scheme expects, with the source's first secret, and posts it to a running
// Relay, so a config can be tried end to end without the provider, openssl
// or curl.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { identityHeaders, typeHeaders } from '../ingest/identity.js';
import type { CompiledSource } from '../ingest/source.js';
import { processIo, type Io } from './format.js';
import { pickSource } from '../dry-run.js';

export interface SendOptions {
  config: string;
  source?: string;
  url?: string;
  /** `Name: value` strings; they override every header Relay would set. */
  header: string[];
  /** The event type, for schemes that read it from a header (GitHub, Shopify, `event.type: {header}`). */
  type?: string;
}

export interface SendResult {
  url: string;
  status: number;
  /** The event id Relay answered with, when it accepted (or had seen) the event. */
  id?: string;
  body: string;
}

export async function sendCommand(file: string, opts: SendOptions, io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Promise<SendResult> {
  const config = await loadConfig(opts.config, { env });
  const source = pickSource(config, opts.source);
  const body = await readFile(file);
  const headers = signedHeaders(config, source, body, opts, io);
  const url = opts.url ?? defaultUrl(config, source);

  io.err(`POST ${url} (source ${source.name}, scheme ${source.scheme.name})`);
  let res;
  try {
    res = await request(url, { method: 'POST', headers, body });
  } catch (err) {
    throw new Error(`cannot reach ${url}: ${(err as Error).message} (is \`relay serve\` running?)`);
  }
  const text = await res.body.text();
  const answer = parseAnswer(text);
  const id = typeof answer?.id === 'string' ? answer.id : undefined;
  const ok = res.statusCode >= 200 && res.statusCode < 300;
  if (ok) io.out(`${res.statusCode} ${typeof answer?.status === 'string' ? answer.status : 'ok'}${id ? ` ${id}` : ` ${text}`}`);
  else {
    io.err(`${res.statusCode} ${typeof answer?.error === 'string' ? answer.error : text}`);
    process.exitCode = 1;
  }
  return { url, status: res.statusCode, ...(id !== undefined && { id }), body: text };
}

/** Every header the request needs: content type, identity headers, signature, then the user's. */
export function signedHeaders(config: LoadedConfig, source: CompiledSource, body: Buffer, opts: SendOptions, io: Io = processIo): Record<string, string> {
  const given = parseHeaders(opts.header);
  const headers: Record<string, string> = { 'content-type': 'application/json' };

  const { id: idHeader } = identityHeaders(config, source);
  Object.assign(headers, typeHeaders(config, source, opts.type, given, io));
  // A fresh id per send: a provider never reuses one, and Relay answers a repeat as a duplicate.
  if (idHeader) headers[idHeader] = randomUUID();

  if (!source.scheme.sign) throw new Error(`scheme ${source.scheme.name} cannot sign events`);
  for (const [k, v] of Object.entries(source.scheme.sign(body, source.options, Date.now()))) headers[k.toLowerCase()] = v;
  return { ...headers, ...given };
}

/** Where `relay serve` listens with this config: its port (PORT included), on loopback when it listens on all addresses. */
export function defaultUrl(config: LoadedConfig, source: CompiledSource): string {
  const host = ['', '0.0.0.0', '::', '[::]'].includes(config.server.host) ? '127.0.0.1' : config.server.host;
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${config.server.tls ? 'https' : 'http'}://${hostPart}:${config.server.port}${source.path}`;
}

/** `Name: value` strings as lower-case names, so a user's header replaces ours instead of doubling it. */
export function parseHeaders(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list) {
    const at = h.indexOf(':');
    if (at <= 0) throw new Error(`--header "${h}" is not NAME:VALUE`);
    out[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }
  return out;
}


function parseAnswer(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
