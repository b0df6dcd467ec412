import { createHash } from 'node:crypto';
import { HttpStatus } from '@nestjs/common';
import { invalidField } from '../common/api-errors';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** The methods whose requests a key makes safe to retry; GET, PUT and DELETE are idempotent already. */
export const KEYED_METHODS = new Set(['POST', 'PATCH']);

export const MAX_KEY_LENGTH = 255;

/** Printable ASCII, space included: what a header value carries unchanged through every proxy. */
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * The key a request sends, or a 422 naming the header. A key sent twice (two headers) is refused
 * rather than one of them picked, since the two copies of a retry might not pick the same one.
 */
export function idempotencyKeyOf(header: string | string[]): string {
  if (Array.isArray(header)) throw invalidKey('send one Idempotency-Key header, not several');
  if (header.length === 0 || header.length > MAX_KEY_LENGTH || !PRINTABLE_ASCII.test(header)) {
    throw invalidKey(`Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters, such as a UUID`);
  }
  return header;
}

function invalidKey(message: string) {
  return invalidField(IDEMPOTENCY_KEY_HEADER, message);
}

/** What a key's first request was: a retry must be the same request to be answered as it was. */
export interface RequestShape {
  method: string;
  /** The path as routed (after the `.json` suffix is stripped): `/api/jobs.json` and `/api/jobs` are one request. */
  path: string;
  query: unknown;
  body: unknown;
}

/**
 * SHA-256 of the request's method, path, query and body, objects' keys sorted, so that a client
 * serialising the same body in another key order is still sending the same request.
 */
export function requestFingerprint(request: RequestShape): Buffer {
  const canonical = canonicalJson([request.method.toUpperCase(), request.path, request.query ?? null, request.body ?? null]);
  return createHash('sha256').update(canonical).digest();
}

/** JSON with every object's keys in code-point order; `undefined` members dropped, as JSON.stringify drops them. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, member]) => `${JSON.stringify(name)}:${canonicalJson(member)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Whether an answer is kept and replayed to retries. Successes and the client's own mistakes are
 * final. A 409 (a state that may change), a 429 (a quota or a rate that frees up) and every 5xx
 * say "try again": their key is released so that the retry does the work.
 */
export function isReplayable(status: number): boolean {
  if (status >= 200 && status < 300) return true;
  return status >= 400 && status < 500 && status !== HttpStatus.CONFLICT && status !== HttpStatus.TOO_MANY_REQUESTS;
}

/** The response headers a replay repeats: the ones a handler sets itself and a client may act on. */
export const REPLAYED_RESPONSE_HEADERS = ['location', 'content-location', 'etag'];
