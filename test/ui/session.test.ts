// Dashboard sessions as values: what login issues, and every way a cookie
// can be wrong (forged, tampered, expired, revoked, another token's).

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SESSION_COOKIE, clearedCookie, cookieValues, createSessions, sessionCookie } from '../../src/ui/session.js';

const TOKEN = 'ui-test-admin-token-0123456789';
const T = 1_800_000_000_000;
const header = (value: string) => `theme=dark; ${SESSION_COOKIE}=${value}; other=1`;

describe('createSessions', () => {
  const sessions = createSessions(TOKEN)!;

  it('is off without a token', () => {
    expect(createSessions(undefined)).toBeUndefined();
    expect(createSessions('')).toBeUndefined();
  });

  it('issues a session for the right token only, compared whole', () => {
    for (const wrong of ['', 'x', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()]) expect(sessions.login(wrong, T)).toBeUndefined();
    const value = sessions.login(TOKEN, T)!;
    expect(value).toMatch(/^[\w-]{22}\.\d+\.[\w-]{43}$/);
    expect(value).not.toContain(TOKEN);
    expect(sessions.valid(header(value), T)).toBe(true);
    // Each login is a session of its own.
    expect(sessions.login(TOKEN, T)).not.toBe(value);
  });

  it('refuses forged, tampered and foreign cookies', () => {
    const value = sessions.login(TOKEN, T)!;
    const [id, exp, sig] = value.split('.') as [string, string, string];
    const flip = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    const otherKey = createHmac('sha256', createHmac('sha256', 'another-token-0123456789').update('relay-ui-session-v1').digest()).update(`${id}.${exp}`).digest('base64url');
    for (const forged of [
      'admin',
      `${id}.${exp}`,
      `${flip(id)}.${exp}.${sig}`,
      `${id}.${Number(exp) - 1000}.${sig}`, // another expiry, same signature
      `${id}.${exp}.${flip(sig)}`,
      `${id}.${exp}.${otherKey}`,
      `${id}.${exp}.${sig}x`,
      TOKEN,
    ]) {
      expect(sessions.valid(header(forged), T), forged).toBe(false);
    }
    expect(sessions.valid(undefined, T)).toBe(false);
    expect(sessions.valid(`other=${value}`, T)).toBe(false);
    // Another token's sessions (a rotated token) are not valid here.
    expect(sessions.valid(header(createSessions('another-token-0123456789')!.login('another-token-0123456789', T)!), T)).toBe(false);
  });

  it('expires after its time to live', () => {
    const short = createSessions(TOKEN, { ttlMs: 60_000 })!;
    const value = short.login(TOKEN, T)!;
    expect(short.valid(header(value), T + 59_999)).toBe(true);
    expect(short.valid(header(value), T + 60_000)).toBe(false);
    // A session signed for longer than this process allows is refused (issued by a longer-lived config).
    expect(short.valid(header(sessions.login(TOKEN, T)!), T)).toBe(false);
  });

  it('revokes on logout, here and at once', () => {
    const value = sessions.login(TOKEN, T)!;
    const other = sessions.login(TOKEN, T)!;
    sessions.revoke(header(value), T);
    expect(sessions.valid(header(value), T)).toBe(false);
    expect(sessions.valid(header(other), T)).toBe(true);
    // A header with a revoked and a live session is still a session.
    expect(sessions.valid(`${SESSION_COOKIE}=${value}; ${SESSION_COOKIE}=${other}`, T)).toBe(true);
  });
});

describe('cookies', () => {
  it('reads every value of the cookie and nothing else', () => {
    expect(cookieValues('a=1; relay_session=x.y; b=2; relay_session=z', SESSION_COOKIE)).toEqual(['x.y', 'z']);
    expect(cookieValues('xrelay_session=1; relay_sessionx=2', SESSION_COOKIE)).toEqual([]);
    expect(cookieValues(undefined, SESSION_COOKIE)).toEqual([]);
  });

  it('sets HttpOnly, SameSite=Strict and Path=/, and Secure over HTTPS', () => {
    expect(sessionCookie('v', 3_600_000, false)).toBe('relay_session=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict');
    expect(sessionCookie('v', 3_600_000, true)).toMatch(/; Secure$/);
    expect(clearedCookie(false)).toMatch(/^relay_session=; Path=\/; Max-Age=0;/);
  });
});
