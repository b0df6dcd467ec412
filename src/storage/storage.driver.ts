import type { Readable } from 'node:stream';

export interface StoredObjectInfo {
  bytes: number;
  contentType: string | null;
}

/** Bytes `start` to `end` of an object, both included (HTTP's byte-range positions). */
export interface ByteRange {
  start: number;
  end: number;
}

export class StorageObjectNotFoundError extends Error {
  override name = 'StorageObjectNotFoundError';

  constructor(key: string) {
    super(`No stored object under "${key}"`);
  }
}

/** Where image files live; the keys come from `newStorageKey`, never from a client. */
export abstract class StorageDriver {
  /** Streams `body` to `key` (never buffering a stream whole); the object appears only when complete (no partial object is ever visible under `key`). */
  abstract put(key: string, body: Readable | Buffer, contentType: string): Promise<void>;
  /**
   * The object's bytes as a stream, or only those of `range` (which the caller has checked against
   * the object's size): the store reads no byte outside it. Rejects with StorageObjectNotFoundError.
   */
  abstract get(key: string, range?: ByteRange): Promise<Readable>;
  /** Size and type, or null when absent. */
  abstract stat(key: string): Promise<StoredObjectInfo | null>;
  /** Idempotent: deleting a missing key is fine. */
  abstract delete(key: string): Promise<void>;
  /** A URL a client can PUT the object's bytes to directly (S3 only); the local driver throws PresignUnsupportedError. */
  abstract presignPut(key: string, contentType: string, expiresInSeconds: number): Promise<string>;
  /** Resolves when the store can take files now (the readiness check); rejects saying why not. */
  abstract checkReachable(signal: AbortSignal): Promise<void>;
}

export class PresignUnsupportedError extends Error {
  override name = 'PresignUnsupportedError';
}
