// undici's request and fetch for plugins, re-exported by the plugin API
// (`import { request } from 'relay-webhooks'`). Loaded at the first call:
// importing the API must not cost every process undici (see egress.ts).

import type * as undici from 'undici';

type Request = typeof undici.request;
type Fetch = typeof undici.fetch;

export const request = (async (...args: Parameters<Request>) => (await import('undici')).request(...args)) as Request;
export const fetch = (async (...args: Parameters<Fetch>) => (await import('undici')).fetch(...args)) as Fetch;
