import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const SEALED = 'aes256gcm:';
const PLAIN = 'plain:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The stored secret cannot be opened: it was sealed, and WEBHOOK_SECRET_KEY is unset or another key. */
export class SecretUnreadable extends Error {
  constructor() {
    super('The webhook secret cannot be read: it was stored under a WEBHOOK_SECRET_KEY that is unset or different now');
  }
}

/**
 * Webhook secrets must be readable to sign with (a hash will not do), so they are sealed with
 * AES-256-GCM under a key derived from WEBHOOK_SECRET_KEY, which lives in the environment and not
 * in the database: a copy of the database alone does not let anyone sign webhooks. Without that
 * key they are stored as they are (marked so), and still never shown again.
 */
export class WebhookSecretCipher {
  private readonly key: Buffer | null;

  constructor(passphrase: string | undefined) {
    this.key = passphrase ? createHash('sha256').update(passphrase).digest() : null;
  }

  seal(secret: string): string {
    if (!this.key) return PLAIN + secret;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return SEALED + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
  }

  open(stored: string): string {
    if (stored.startsWith(PLAIN)) return stored.slice(PLAIN.length);
    if (!stored.startsWith(SEALED) || !this.key) throw new SecretUnreadable();
    const bytes = Buffer.from(stored.slice(SEALED.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadable();
    }
  }
}
