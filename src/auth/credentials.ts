import { randomBytes } from 'node:crypto';
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

/** 256 random bits, URL-safe: a bearer token nobody can guess. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}
