import { timingSafeEqual } from 'node:crypto';
import { UnauthorizedException } from '@nestjs/common';
import type { SessionsService } from '../sessions/sessions.service';
import { tokenDigest } from '../identity/credentials';
import { Principal } from '../identity/principal';

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i;

/** The token of an `Authorization: Bearer <token>` header; 401 for any other form. */
export function bearerToken(header: string): string {
  const token = BEARER.exec(header)?.[1];
  if (!token) throw new UnauthorizedException('Malformed Authorization header: expected "Bearer <authentication_token>"');
  return token;
}

/**
 * Who a bearer token is. ADMIN_TOKEN (`adminDigest`, its tokenDigest made once) is compared in
 * constant time (digests of both, so not even its length shows); any other token is looked up by
 * the same SHA-256 (see SessionsService.authenticate for why that lookup may use an index): one
 * indexed query joining the user.
 */
export async function bearerPrincipal(token: string, adminDigest: Buffer | null, sessions: SessionsService): Promise<Principal> {
  const digest = tokenDigest(token);
  if (adminDigest !== null && timingSafeEqual(digest, adminDigest)) return Principal.adminToken();
  const session = await sessions.authenticateDigest(digest);
  if (!session) throw new UnauthorizedException('Invalid bearer token');
  return Principal.forUser({ id: session.userId, admin: session.admin }, session.sessionId);
}
