import { SetMetadata } from '@nestjs/common';
import type { CookieOptions, Request, Response } from 'express';
import { createHmac } from 'node:crypto';
import { secretsEqual } from '../identity/credentials';

/** The cookie that holds a browser's session token (the same kind of token as a bearer token). */
export const SESSION_COOKIE = 'darkroom_session';

/**
 * Browsers send the cookie to the admin pages only, never to /api: no API route can be driven by
 * a cookie a browser attaches on its own.
 */
export const SESSION_COOKIE_PATH = '/admin';

/** The header a cookie-authenticated POST must carry, holding the page's CSRF token. */
export const CSRF_HEADER = 'x-csrf-token';

export const IS_COOKIE_AUTH = 'darkroom:cookie-auth';

/** Marks a route that also accepts the session cookie (a bearer header still works, and wins). */
export const CookieAuth = () => SetMetadata(IS_COOKIE_AUTH, true);

/**
 * The CSRF token of a session: an HMAC keyed by its token, so it needs no storage and changes
 * with each session, and knowing it (or the stored SHA-256 of the token) reveals nothing of the
 * token. Another site can neither read the HttpOnly cookie nor the page holding this value.
 */
export function csrfTokenOf(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update('darkroom csrf v1').digest('base64url');
}

export function csrfTokenMatches(sessionToken: string, given: string | undefined): boolean {
  return given !== undefined && secretsEqual(csrfTokenOf(sessionToken), given);
}

/** The session token a request's cookie carries, if any. */
export function sessionCookieOf(request: Request): string | undefined {
  const value = (request.cookies as Record<string, unknown> | undefined)?.[SESSION_COOKIE];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Whether a request's Origin, when it sends one, is this server's own. Browsers send Origin on
 * every cross-site POST, so a form or fetch from another site is refused even before its token
 * is checked. Behind a proxy that TRUST_PROXY trusts, protocol and host are the ones the browser
 * used (X-Forwarded-Proto, X-Forwarded-Host).
 */
export function sameOrigin(request: Pick<Request, 'headers' | 'protocol' | 'host'>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  return origin === `${request.protocol}://${request.host}`;
}

function cookieOptions(request: Request): CookieOptions {
  // request.secure follows X-Forwarded-Proto when TRUST_PROXY trusts the proxy that sets it.
  return { httpOnly: true, sameSite: 'strict', secure: request.secure, path: SESSION_COOKIE_PATH };
}

export function setSessionCookie(request: Request, response: Response, token: string, ttlDays: number): void {
  response.cookie(SESSION_COOKIE, token, { ...cookieOptions(request), maxAge: ttlDays * 24 * 60 * 60 * 1000 });
}

export function clearSessionCookie(request: Request, response: Response): void {
  response.clearCookie(SESSION_COOKIE, cookieOptions(request));
}
