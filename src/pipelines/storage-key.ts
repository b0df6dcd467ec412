import { randomUUID } from 'node:crypto';

const MAX_KEY_LENGTH = 1024;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
const EXTENSION = /^[A-Za-z0-9]{1,16}$/;

/** A fresh key such as `originals/2026/11/23/<uuid>.jpg`; the date prefix keeps directories small. */
export function newStorageKey(kind: 'originals' | 'outputs' | 'uploads' | 'histogram-snapshots', extension: string): string {
  if (!EXTENSION.test(extension)) {
    throw new Error(`Invalid storage key extension "${extension}"`);
  }
  const now = new Date();
  const month = String(now.getUTCMonth() + 1).padStart(2, '0');
  const day = String(now.getUTCDate()).padStart(2, '0');
  return `${kind}/${now.getUTCFullYear()}/${month}/${day}/${randomUUID()}.${extension.toLowerCase()}`;
}

/**
 * Whether `key` is safe both as an S3 key and as a relative path. `.` segments are refused with `..`
 * because the file system would fold `a/./b` into `a/b` while S3 keeps them apart.
 */
export function isValidStorageKey(key: string): boolean {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) return false;
  return key.split('/').every((segment) => SEGMENT.test(segment) && segment !== '.' && segment !== '..');
}

/** The drivers' defence in depth: keys are generated, so an invalid one is a bug, not user input. */
export function assertValidStorageKey(key: string): void {
  if (!isValidStorageKey(key)) {
    throw new Error(`Invalid storage key "${key}"`);
  }
}
