import { createHmac, timingSafeEqual } from 'node:crypto';

/** Seconds an events token may be used to start a stream. */
export const EVENTS_TOKEN_TTL_SECONDS = 60;

/** The stream a token opens: one job's, or all of its holder's jobs. */
export type EventsScope = { jobId: number } | 'all';

export interface EventsTokenClaims {
  scope: EventsScope;
  userId: number | null;
  admin: boolean;
  /** Unix seconds after which the token no longer starts a stream. */
  expiresAt: number;
}

const PURPOSE = 'darkroom-job-events-v1';

function scopeName(scope: EventsScope): string {
  return scope === 'all' ? 'all' : `job:${scope.jobId}`;
}

function sign(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(`${PURPOSE}.${body}`).digest();
}

/**
 * A short-lived `?access_token=` for EventSource, which cannot send an Authorization header. It
 * is signed, not stored: any API process of the installation checks it with the shared secret.
 * It names its stream and carries no session token, so it opens that stream only; as a bearer
 * token it matches no session and gets 401.
 */
export function makeEventsToken(secret: string, claims: EventsTokenClaims): string {
  const body = Buffer.from(JSON.stringify({ s: scopeName(claims.scope), u: claims.userId, a: claims.admin, e: claims.expiresAt })).toString(
    'base64url',
  );
  return `${body}.${sign(secret, body).toString('base64url')}`;
}

/** The token's holder, when it is genuine, unexpired at `nowSeconds` and made for `scope`; null otherwise. */
export function verifyEventsToken(
  secret: string,
  token: string,
  scope: EventsScope,
  nowSeconds: number,
): { userId: number | null; admin: boolean } | null {
  const [body, signature, ...rest] = token.split('.');
  if (!body || !signature || rest.length > 0) return null;
  const expected = sign(secret, body);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let claims: { s?: unknown; u?: unknown; a?: unknown; e?: unknown };
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (claims.s !== scopeName(scope) || typeof claims.e !== 'number' || claims.e < nowSeconds) return null;
  const userId = typeof claims.u === 'number' ? claims.u : null;
  return { userId, admin: claims.a === true };
}
