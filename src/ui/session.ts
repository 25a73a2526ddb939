// Dashboard sessions: logging in with the admin token yields a signed cookie
// that stands in for the token on /ui and /admin. Stateless, so every
// instance behind a load balancer accepts the cookie another one issued: the
// value is `<random id>.<expiry ms>.<HMAC-SHA256(key, id.expiry)>`, and the
// key is derived from the admin token, so rotating the token ends every
// session. Logging out also revokes the id in this process until it expires.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'relay_session';
export const SESSION_TTL_MS = 12 * 3600_000;
// Bounds the revocation list: a flood of logouts cannot grow memory without end.
const MAX_REVOKED = 10_000;
const VALUE = /^([A-Za-z0-9_-]{22})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/;

export interface Sessions {
  readonly ttlMs: number;
  /** Checks the token in constant time; a new cookie value when it is right. */
  login(presented: string, now?: number): string | undefined;
  /** Whether the Cookie header carries a session that is signed, unexpired and not revoked. */
  valid(cookieHeader: string | undefined, now?: number): boolean;
  /** Logout: the header's sessions stop working in this process at once. */
  revoke(cookieHeader: string | undefined, now?: number): void;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Undefined without a token: the dashboard is off, like the admin API. */
export function createSessions(token: string | undefined, options: { ttlMs?: number } = {}): Sessions | undefined {
  if (!token) return undefined;
  const ttlMs = options.ttlMs ?? SESSION_TTL_MS;
  const expected = sha256(token);
  const key = createHmac('sha256', token).update('relay-ui-session-v1').digest();
  const revoked = new Map<string, number>();
  const mac = (payload: string): Buffer => createHmac('sha256', key).update(payload).digest();

  /** The id and expiry of each well-signed, unexpired session value in the header. */
  const sessionsIn = (header: string | undefined, now: number): Array<{ id: string; expires: number }> =>
    cookieValues(header, SESSION_COOKIE).flatMap((value) => {
      const m = VALUE.exec(value);
      if (!m) return [];
      const [, id, exp, sig] = m as unknown as [string, string, string, string];
      const given = Buffer.from(sig, 'base64url');
      if (given.length !== 32 || !timingSafeEqual(given, mac(`${id}.${exp}`))) return [];
      const expires = Number(exp);
      return expires > now && expires <= now + ttlMs ? [{ id, expires }] : [];
    });

  return {
    ttlMs,
    login(presented, now = Date.now()) {
      // Hashing both sides gives equal lengths and hides the token's length.
      if (!timingSafeEqual(sha256(presented), expected)) return undefined;
      const id = randomBytes(16).toString('base64url');
      const expires = now + ttlMs;
      return `${id}.${expires}.${mac(`${id}.${expires}`).toString('base64url')}`;
    },
    valid(header, now = Date.now()) {
      return sessionsIn(header, now).some((s) => !revoked.has(s.id));
    },
    revoke(header, now = Date.now()) {
      for (const [id, expires] of revoked) if (expires <= now) revoked.delete(id);
      for (const s of sessionsIn(header, now)) {
        if (revoked.size >= MAX_REVOKED) revoked.delete(revoked.keys().next().value!);
        revoked.set(s.id, s.expires);
      }
    },
  };
}

/** Every value of the named cookie: a header may carry several (set for other paths or parent domains). */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  return header.split(';').flatMap((part) => {
    const eq = part.indexOf('=');
    return eq > 0 && part.slice(0, eq).trim() === name ? [part.slice(eq + 1).trim()] : [];
  });
}

export function sessionCookie(value: string, maxAgeMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${Math.floor(maxAgeMs / 1000)}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

export function clearedCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}
