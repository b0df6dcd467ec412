import { hash } from 'node:crypto';

/**
 * Express's default ETag of an answer's body, the same value (the `etag` package's weak tag:
 * `W/"<byte length in hex>-<SHA-1 in base64, 27 characters>"`), made by one-shot `crypto.hash`
 * rather than a Hash object per answer: set as Express's `etag` function.
 */
export function weakEtag(body: Buffer | string, encoding?: BufferEncoding): string {
  return `W/${strongEtag(body, encoding)}`;
}

/**
 * The same tag without `W/`: a strong one, for an answer whose bytes are the same whenever the tag
 * is (no content coding, no whitespace that varies), so that clients may also use it for ranges and
 * If-Match. Set on an answer before it is sent, it takes the place of Express's weak tag.
 */
export function strongEtag(body: Buffer | string, encoding?: BufferEncoding): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, encoding) : body;
  return `"${bytes.length.toString(16)}-${hash('sha1', bytes, 'base64').substring(0, 27)}"`;
}
