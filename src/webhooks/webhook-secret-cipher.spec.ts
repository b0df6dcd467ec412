import { SecretUnreadable, WebhookSecretCipher } from './webhook-secret-cipher';

describe('WebhookSecretCipher', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const key = 'a-webhook-key-of-at-least-32-characters';

  it('seals with WEBHOOK_SECRET_KEY: the stored form does not contain the secret, and only that key opens it', () => {
    const cipher = new WebhookSecretCipher(key);
    const stored = cipher.seal(secret);
    expect(stored).toMatch(/^aes256gcm:/);
    expect(stored).not.toContain(secret.slice(6));
    expect(cipher.seal(secret)).not.toBe(stored);
    expect(cipher.open(stored)).toBe(secret);
    expect(() => new WebhookSecretCipher(`${key}!`).open(stored)).toThrow(SecretUnreadable);
    expect(() => new WebhookSecretCipher(undefined).open(stored)).toThrow(SecretUnreadable);
  });

  it('refuses a sealed secret that was tampered with', () => {
    const cipher = new WebhookSecretCipher(key);
    const stored = Buffer.from(cipher.seal(secret).slice('aes256gcm:'.length), 'base64');
    stored[stored.length - 1] ^= 1;
    expect(() => cipher.open(`aes256gcm:${stored.toString('base64')}`)).toThrow(SecretUnreadable);
  });

  it('without a key, stores the secret marked as plain, which a key set later still reads', () => {
    const stored = new WebhookSecretCipher(undefined).seal(secret);
    expect(stored).toBe(`plain:${secret}`);
    expect(new WebhookSecretCipher(undefined).open(stored)).toBe(secret);
    expect(new WebhookSecretCipher(key).open(stored)).toBe(secret);
  });
});
