// undici, loaded (synchronously: it is CommonJS) at its first use: a config
// without HTTP actions, `relay validate`, and importing the plugin API never
// load its ~50 modules (~11 MB of a server's RSS). Its request and fetch are
// re-exported by the plugin API (`import { request } from 'relay-webhooks'`);
// egress.ts builds the shared dispatcher from the same loader.

import { createRequire } from 'node:module';

import type * as Undici from 'undici';

export function undici(): typeof Undici {
  return createRequire(import.meta.url)('undici') as typeof Undici;
}

export const request: typeof Undici.request = (...args) => undici().request(...args);
export const fetch: typeof Undici.fetch = (...args) => undici().fetch(...args);
