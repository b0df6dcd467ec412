import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a public URL gives access to: one preset (or free-form steps, free-form-steps.ts) of one image, until `expires` (Unix seconds) if set. */
export interface SignedTarget {
  preset: string;
  imageId: number;
  expires: number | null;
}

export type SignatureCheck = 'valid' | 'invalid' | 'expired';

/** A base64url HMAC-SHA256: 43 characters. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Signs and checks public derivative URLs with HMAC-SHA256. Signing uses the current key; checking
 * also accepts the previous ones, so that a key can be rotated without breaking the URLs already
 * handed out (in `<img>` tags, in CDN caches) until they are re-issued. The check is pure: a bad or
 * expired URL is refused before anything is read.
 */
export class UrlSigner {
  private readonly keys: Buffer[];

  constructor(current: Buffer, previous: Buffer[] = []) {
    this.keys = [current, ...previous];
  }

  sign(target: SignedTarget): string {
    return this.mac(this.keys[0], target).toString('base64url');
  }

  /** Expiry is only told apart from a bad signature once the signature is known good. */
  check(signature: string, target: SignedTarget, now = new Date()): SignatureCheck {
    if (!SIGNATURE_PATTERN.test(signature)) return 'invalid';
    const given = Buffer.from(signature, 'base64url');
    if (!this.keys.some((key) => timingSafeEqual(this.mac(key, target), given))) return 'invalid';
    if (target.expires !== null && target.expires * 1000 <= now.getTime()) return 'expired';
    return 'valid';
  }

  /** Versioned and separated by newlines, which neither a preset segment (a name or base64url) nor a number contains. */
  private mac(key: Buffer, { preset, imageId, expires }: SignedTarget): Buffer {
    return createHmac('sha256', key)
      .update(['darkroom-url-1', preset, String(imageId), expires === null ? '' : String(expires)].join('\n'))
      .digest();
  }
}
