import { hash } from 'node:crypto';

/**
 * Express's default ETag of an answer's body, the same value (the `etag` package's weak tag:
 * `W/"<byte length in hex>-<SHA-1 in base64, 27 characters>"`), made by one-shot `crypto.hash`
 * rather than a Hash object per answer: set as Express's `etag` function.
 */
export function weakEtag(body: Buffer | string, encoding?: BufferEncoding): string {
  const bytes = typeof body === 'string' ? Buffer.from(body, encoding) : body;
  return `W/"${bytes.length.toString(16)}-${hash('sha1', bytes, 'base64').substring(0, 27)}"`;
}
