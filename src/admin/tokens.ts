// The admin surface's credentials: RELAY_ADMIN_TOKEN (everything) and
// RELAY_READ_TOKEN (GET and HEAD only: dashboards, scripts, monitoring), each
// from the variable or from a file named by its *_FILE twin (Docker and
// Kubernetes secrets), never both.

import { readFileSync } from 'node:fs';
import { RelayError } from '../errors.js';

/** Short tokens fall to guessing; refuse to start with one rather than serve it. */
export const MIN_TOKEN_LENGTH = 16;

export interface AdminTokens {
  admin?: string;
  read?: string;
}

export function readTokens(env: NodeJS.ProcessEnv): AdminTokens {
  const admin = tokenFrom(env, 'RELAY_ADMIN_TOKEN');
  const read = tokenFrom(env, 'RELAY_READ_TOKEN');
  if (admin !== undefined && admin === read) {
    throw new RelayError('RELAY_ERR_CONFIG', 'RELAY_READ_TOKEN must differ from RELAY_ADMIN_TOKEN');
  }
  return { ...(admin !== undefined && { admin }), ...(read !== undefined && { read }) };
}

function tokenFrom(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name] || undefined;
  const file = env[`${name}_FILE`] || undefined;
  if (direct !== undefined && file !== undefined) throw new RelayError('RELAY_ERR_CONFIG', `set ${name} or ${name}_FILE, not both`);
  let token = direct;
  if (file !== undefined) {
    try {
      // Secret files usually end in a newline; the token is the first line.
      token = readFileSync(file, 'utf8').split(/\r?\n/)[0]!.trim();
    } catch (err) {
      throw new RelayError('RELAY_ERR_CONFIG', `cannot read ${name}_FILE (${file}): ${(err as Error).message}`);
    }
    if (token === '') throw new RelayError('RELAY_ERR_CONFIG', `${name}_FILE (${file}) is empty`);
  }
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
    throw new RelayError('RELAY_ERR_CONFIG', `${name} must be at least ${MIN_TOKEN_LENGTH} characters (try: openssl rand -hex 32)`);
  }
  return token;
}
