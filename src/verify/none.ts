// No verification, for trusted networks and local testing. The loader makes
// users write it explicitly and `relay validate` warns about it.

import type { Scheme, SchemeOptionsBase } from './types.js';

export type NoneOptions = SchemeOptionsBase;

export const noneScheme: Scheme<NoneOptions> = {
  name: 'none',
  description: 'Accepts every request without checking anything.',
  options: { type: 'object', properties: {} },
  needsSecret: false,
  create: () => ({ verify: () => ({ ok: true, secret: -1 }) }),
  sign: () => ({}),
};
