import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as bcrypt from 'bcrypt';

/** bcrypt's cost: 2^12 rounds, about a quarter second, run on libuv's thread pool. */
const COST = 12;

/** bcrypt reads at most this many bytes of a password; longer ones are refused, not truncated. */
export const MAX_PASSWORD_BYTES = 72;

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, COST);
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return bcrypt.compare(password, hash);
}

let dummyHash: Promise<string> | null = null;

/**
 * A bcrypt hash of the same cost as real ones, of a password nobody knows. Sign-in compares
 * against it when no account has the login given, so that an unknown user takes as long to refuse
 * as a wrong password. Made once per process (call it at start to have it ready).
 */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64url'));
  return dummyHash;
}

/** Checks a password against `hash`, or against the dummy hash (always false) when there is no account. */
export async function verifyPasswordOrDummy(hash: string | null, password: string): Promise<boolean> {
  const matches = await verifyPassword(hash ?? (await dummyPasswordHash()), password);
  return hash !== null && matches;
}

/** 256 random bits, URL-safe: a bearer token nobody can guess. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What the server keeps of a bearer token: its SHA-256 (of the token's UTF-8 bytes), 32 bytes. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Whether two secrets are equal, in a time that depends on neither: both are hashed to 32 bytes
 * first, so even their lengths stay hidden from timingSafeEqual's caller.
 */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(tokenDigest(a), tokenDigest(b));
}
