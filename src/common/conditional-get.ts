import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { ByteRange } from '../storage/storage.driver';

// fresh ships no type declarations, so it is required with the one function used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
const fresh: (requestHeaders: IncomingHttpHeaders, responseHeaders: Record<string, string | undefined>) => boolean = require('fresh');

/** A stored file as a GET answers it: its size and its validators. */
export interface StoredRepresentation {
  bytes: number;
  /** A strong entity-tag, quoted: the same bytes always have the same one. */
  etag: string;
  /** When the bytes were stored; null when that is not known truly. */
  lastModified: Date | null;
}

/** An answer's validators, as its headers. */
export interface Validators {
  ETag: string;
  'Last-Modified'?: string;
}

/** What to answer a GET of a stored file: the headers to set, and which bytes to send (none for a 304). */
export type StoredFileAnswer =
  | { status: 304; headers: Record<string, string> }
  | { status: 200; headers: Record<string, string>; range: null; length: number }
  | { status: 206; headers: Record<string, string>; range: ByteRange; length: number };

/**
 * A Range that no byte of the file satisfies: answered 416, with a Content-Range that gives the
 * file's size (src/common/api-exception.filter.ts).
 */
export class RangeNotSatisfiableError extends Error {
  override name = 'RangeNotSatisfiableError';

  constructor(
    readonly range: string,
    readonly size: number,
  ) {
    super(
      size === 0
        ? `Range ${range} asks for bytes of an empty file`
        : `Range ${range} asks for no byte of the file, whose bytes are 0 to ${size - 1}`,
    );
  }
}

/**
 * The answer to a GET or HEAD of a stored file, by RFC 9110's rules: a client's current copy
 * (notModified) gets 304; otherwise a single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) of a
 * GET gets 206, unless If-Range names another version (HEAD ignores Range: the RFC defines ranges
 * for GET alone). A Range of several ranges, of another unit, or that does not parse is ignored:
 * the whole file, 200, as the RFC allows. Throws RangeNotSatisfiableError for a range past the end.
 */
export function answerStoredFile(request: Pick<IncomingMessage, 'method' | 'headers'>, file: StoredRepresentation): StoredFileAnswer {
  const validators: Validators = { ETag: file.etag };
  if (file.lastModified) validators['Last-Modified'] = file.lastModified.toUTCString();
  const { headers: asked } = request;
  if (notModified(asked, validators)) return { status: 304, headers: { ...validators } };
  const headers = { ...validators, 'Accept-Ranges': 'bytes' };
  const range =
    request.method === 'GET' && asked.range !== undefined && ifRangeHolds(asked['if-range'], validators)
      ? parseByteRange(asked.range, file.bytes)
      : null;
  if (!range) return { status: 200, headers, range: null, length: file.bytes };
  return {
    status: 206,
    headers: { ...headers, 'Content-Range': `bytes ${range.start}-${range.end}/${file.bytes}` },
    range,
    length: range.end - range.start + 1,
  };
}

/**
 * Whether a GET's conditions say that the client's copy is current (304): If-None-Match (a list,
 * or `*`) by weak comparison, or, only without it, If-Modified-Since against Last-Modified.
 */
export function notModified(request: IncomingHttpHeaders, validators: Validators): boolean {
  return fresh(request, { etag: validators.ETag, 'last-modified': validators['Last-Modified'] });
}

/**
 * If-Range holds when absent, or when it names this very version: its entity-tag by strong
 * comparison (a weak tag never matches), or its Last-Modified date exactly.
 */
function ifRangeHolds(ifRange: string | string[] | undefined, validators: Validators): boolean {
  if (ifRange === undefined) return true;
  if (typeof ifRange !== 'string') return false;
  const condition = ifRange.trim();
  if (condition.startsWith('"') || condition.startsWith('W/')) return condition === validators.ETag;
  const lastModified = validators['Last-Modified'];
  return lastModified !== undefined && Date.parse(condition) === Date.parse(lastModified);
}

const SINGLE_RANGE = /^bytes[ \t]*=[ \t]*(?:([0-9]+)-([0-9]*)|-([0-9]+))[ \t]*$/i;

/**
 * The one byte range a `Range` header asks of `size` bytes, clipped to them; null when the header
 * is to be ignored (several ranges, another unit, bad syntax, a last position before the first).
 */
function parseByteRange(header: string, size: number): ByteRange | null {
  const match = SINGLE_RANGE.exec(header);
  if (!match) return null;
  const [, first, last, suffix] = match;
  if (suffix !== undefined) {
    // A suffix longer than the file is the whole file; an empty suffix, or an empty file, has no byte to give.
    const length = Number(suffix);
    if (length === 0 || size === 0) throw new RangeNotSatisfiableError(header, size);
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return null;
  if (start >= size) throw new RangeNotSatisfiableError(header, size);
  return { start, end: Math.min(end, size - 1) };
}
