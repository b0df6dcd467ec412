import { UnauthorizedException } from '@nestjs/common';
import type { SessionsService } from '../sessions/sessions.service';
import { bearerPrincipal, bearerToken } from './bearer';
import { tokenDigest } from '../identity/credentials';

describe('bearerToken', () => {
  it.each([
    ['Bearer abc.DEF-_~+/=', 'abc.DEF-_~+/='],
    ['bearer   tok', 'tok'],
  ])('takes the token of %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([['Basic YWRhOnNlY3JldA=='], ['Bearer'], ['Bearer two words'], ['Bearer tok"en']])(
    'refuses %j with 401 saying the form',
    (header) => {
      expect(() => bearerToken(header)).toThrow(
        new UnauthorizedException('Malformed Authorization header: expected "Bearer <authentication_token>"'),
      );
    },
  );
});

describe('bearerPrincipal', () => {
  const sessions = (found: { sessionId: number; userId: number; admin: boolean } | null) =>
    ({ authenticateDigest: jest.fn(async () => found) }) as unknown as SessionsService & { authenticateDigest: jest.Mock };

  it('takes ADMIN_TOKEN as the admin token, without looking up a session', async () => {
    const lookup = sessions(null);
    const principal = await bearerPrincipal('the-admin-token', tokenDigest('the-admin-token'), lookup);
    expect({ admin: principal.isAdmin, userId: principal.userId }).toEqual({ admin: true, userId: null });
    expect(lookup.authenticateDigest).not.toHaveBeenCalled();
  });

  it("looks any other token up by its digest: the session's user", async () => {
    const lookup = sessions({ sessionId: 5, userId: 7, admin: false });
    const principal = await bearerPrincipal('a-session-token', tokenDigest('the-admin-token'), lookup);
    expect({ userId: principal.userId, sessionId: principal.sessionId, admin: principal.isAdmin }).toEqual({
      userId: 7,
      sessionId: 5,
      admin: false,
    });
    expect(lookup.authenticateDigest).toHaveBeenCalledWith(tokenDigest('a-session-token'));
  });

  it('refuses a token that is no session, with or without ADMIN_TOKEN set', async () => {
    for (const adminDigest of [tokenDigest('the-admin-token'), null]) {
      await expect(bearerPrincipal('the-admin-token-not', adminDigest, sessions(null))).rejects.toThrow(
        new UnauthorizedException('Invalid bearer token'),
      );
    }
  });
});
