import { createHmac, randomBytes } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
/** 32 random bytes: the size of HMAC-SHA256's output, well within Standard Webhooks' 24 to 64. */
const SECRET_BYTES = 32;

/** A new signing secret in Standard Webhooks' form: `whsec_` and the base64 of random bytes. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key a `whsec_…` secret stands for: its base64 part, decoded. */
function keyOf(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('A webhook secret starts with whsec_');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

/**
 * The `webhook-signature` header of Standard Webhooks 1.0: for each secret, `v1,` and the base64
 * HMAC-SHA256 of `<id>.<timestamp>.<body>`, separated by spaces. Receivers accept the message if
 * any one verifies, so signing with the old and the new secret spans a rotation.
 */
export function signWebhook(secrets: string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map((secret) => `v1,${createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`)
    .join(' ');
}
