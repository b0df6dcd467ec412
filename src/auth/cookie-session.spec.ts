import type { Request } from 'express';
import { generateToken } from '../identity/credentials';
import { csrfTokenMatches, csrfTokenOf, sameOrigin } from './cookie-session';

describe('cookie sessions', () => {
  it('derives one CSRF token per session token: stable, different for another session, never the token itself', () => {
    const token = generateToken();
    const csrf = csrfTokenOf(token);
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(csrfTokenOf(token)).toBe(csrf);
    expect(csrf).not.toBe(token);
    expect(csrfTokenOf(generateToken())).not.toBe(csrf);
  });

  it('accepts only the CSRF token of the same session', () => {
    const token = generateToken();
    expect(csrfTokenMatches(token, csrfTokenOf(token))).toBe(true);
    expect(csrfTokenMatches(token, undefined)).toBe(false);
    expect(csrfTokenMatches(token, '')).toBe(false);
    expect(csrfTokenMatches(token, csrfTokenOf(generateToken()))).toBe(false);
    expect(csrfTokenMatches(token, token)).toBe(false);
  });

  it("takes a request without Origin, or with this server's own, and refuses any other origin", () => {
    const request = (origin: string | undefined, protocol = 'http', host = 'localhost:3000') =>
      ({ headers: origin === undefined ? {} : { origin }, protocol, host }) as Pick<Request, 'headers' | 'protocol' | 'host'>;
    expect(sameOrigin(request(undefined))).toBe(true);
    expect(sameOrigin(request('http://localhost:3000'))).toBe(true);
    expect(sameOrigin(request('https://darkroom.example', 'https', 'darkroom.example'))).toBe(true);
    expect(sameOrigin(request('http://localhost:3001'))).toBe(false);
    expect(sameOrigin(request('https://localhost:3000'))).toBe(false);
    expect(sameOrigin(request('null'))).toBe(false);
    expect(sameOrigin(request('http://localhost:3000.evil.example'))).toBe(false);
  });
});
