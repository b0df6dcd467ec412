import { createHash } from 'node:crypto';
import { loadConfig } from '../config/app-config';
import { generateToken, hashPassword, secretsEqual, tokenDigest, verifyPasswordOrDummy } from './credentials';

describe('credentials', () => {
  it('makes 256-bit base64url tokens, never the same twice', () => {
    const tokens = new Set(Array.from({ length: 100 }, generateToken));
    expect(tokens.size).toBe(100);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('digests a token as the Sessions migration does in SQL: SHA-256 of its UTF-8 bytes', () => {
    expect(tokenDigest('abc').toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(tokenDigest('é')).toEqual(createHash('sha256').update(Buffer.from('é', 'utf8')).digest());
  });

  it('compares secrets of any lengths without throwing', () => {
    expect(secretsEqual('test-admin-token-0123', 'test-admin-token-0123')).toBe(true);
    expect(secretsEqual('test-admin-token-0123', 'test-admin-token-012')).toBe(false);
    expect(secretsEqual('', 'x')).toBe(false);
  });

  it('refuses every password when there is no account, after a real bcrypt comparison', async () => {
    const hash = await hashPassword('right');
    expect(await verifyPasswordOrDummy(hash, 'right')).toBe(true);
    expect(await verifyPasswordOrDummy(hash, 'wrong')).toBe(false);
    expect(await verifyPasswordOrDummy(null, 'right')).toBe(false);
    expect(await verifyPasswordOrDummy(null, '')).toBe(false);
  }, 20_000);

  it('reads SESSION_TTL_DAYS: 90 by default, a positive whole number of days', () => {
    expect(loadConfig({}).SESSION_TTL_DAYS).toBe(90);
    expect(loadConfig({ SESSION_TTL_DAYS: '7' }).SESSION_TTL_DAYS).toBe(7);
    for (const bad of ['0', '-1', '1.5', 'forever']) {
      expect(() => loadConfig({ SESSION_TTL_DAYS: bad })).toThrow('SESSION_TTL_DAYS must be a positive whole number of days');
    }
  });
});
