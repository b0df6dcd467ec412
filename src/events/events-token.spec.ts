import { makeEventsToken, verifyEventsToken } from './events-token';

const SECRET = 'a-secret-of-the-installation';
const NOW = 1_800_000_000;

describe('events tokens', () => {
  const token = makeEventsToken(SECRET, { scope: { jobId: 7 }, userId: 3, admin: false, expiresAt: NOW + 60 });

  it('opens the stream it was made for, as its holder, until it expires', () => {
    expect(verifyEventsToken(SECRET, token, { jobId: 7 }, NOW)).toEqual({ userId: 3, admin: false });
    expect(verifyEventsToken(SECRET, token, { jobId: 7 }, NOW + 60)).not.toBeNull();
    expect(verifyEventsToken(SECRET, token, { jobId: 7 }, NOW + 61)).toBeNull();
  });

  it('opens no other stream', () => {
    expect(verifyEventsToken(SECRET, token, { jobId: 8 }, NOW)).toBeNull();
    expect(verifyEventsToken(SECRET, token, 'all', NOW)).toBeNull();
    const all = makeEventsToken(SECRET, { scope: 'all', userId: null, admin: true, expiresAt: NOW + 60 });
    expect(verifyEventsToken(SECRET, all, 'all', NOW)).toEqual({ userId: null, admin: true });
    expect(verifyEventsToken(SECRET, all, { jobId: 7 }, NOW)).toBeNull();
  });

  it('refuses a token changed in any way, or signed with another secret', () => {
    const [body, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ s: 'job:7', u: 1, a: true, e: NOW + 60 })).toString('base64url');
    expect(verifyEventsToken(SECRET, `${forged}.${signature}`, { jobId: 7 }, NOW)).toBeNull();
    expect(verifyEventsToken(SECRET, `${body}.${signature.slice(1)}`, { jobId: 7 }, NOW)).toBeNull();
    expect(verifyEventsToken('another-secret', token, { jobId: 7 }, NOW)).toBeNull();
    expect(verifyEventsToken(SECRET, 'garbage', { jobId: 7 }, NOW)).toBeNull();
    expect(verifyEventsToken(SECRET, `${token}.x`, { jobId: 7 }, NOW)).toBeNull();
  });
});
