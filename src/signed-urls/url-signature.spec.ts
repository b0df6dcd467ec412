import { randomBytes } from 'node:crypto';
import { UrlSigner } from './url-signature';

describe('UrlSigner', () => {
  const current = randomBytes(32);
  const previous = randomBytes(32);
  const target = { preset: 'thumb_256', imageId: 42, expires: null };
  const now = new Date('2026-12-06T12:00:00Z');

  it('accepts its own signature, and refuses it for another preset, image or expiry', () => {
    const signer = new UrlSigner(current);
    const signature = signer.sign(target);
    expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(signer.check(signature, target, now)).toBe('valid');
    expect(signer.check(signature, { ...target, preset: 'medium_1024' }, now)).toBe('invalid');
    expect(signer.check(signature, { ...target, imageId: 43 }, now)).toBe('invalid');
    expect(signer.check(signature, { ...target, expires: 2_000_000_000 }, now)).toBe('invalid');
  });

  it('refuses malformed signatures without throwing', () => {
    const signer = new UrlSigner(current);
    for (const bad of ['', 'x', signer.sign(target).slice(1), `${signer.sign(target)}A`, '!'.repeat(43)]) {
      expect(signer.check(bad, target, now)).toBe('invalid');
    }
  });

  it('tells an expired URL from a forged one only when the signature is good', () => {
    const signer = new UrlSigner(current);
    const expires = Math.floor(now.getTime() / 1000);
    const expiring = { ...target, expires };
    const signature = signer.sign(expiring);
    expect(signer.check(signature, expiring, new Date(now.getTime() - 1000))).toBe('valid');
    expect(signer.check(signature, expiring, now)).toBe('expired');
    expect(new UrlSigner(randomBytes(32)).check(signature, expiring, now)).toBe('invalid');
  });

  it('accepts URLs signed with a previous key after a rotation, and signs with the new one', () => {
    const before = new UrlSigner(previous);
    const after = new UrlSigner(current, [previous]);
    const old = before.sign(target);
    expect(after.check(old, target, now)).toBe('valid');
    expect(after.sign(target)).not.toBe(old);
    expect(new UrlSigner(current).check(old, target, now)).toBe('invalid');
  });
});
