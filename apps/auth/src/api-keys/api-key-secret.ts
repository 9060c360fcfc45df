import { createHash } from 'node:crypto';
import { randomBase62 } from '../common/ids';

/** Random characters after `sk-`: 32 base62 characters ≈ 190 bits (≥ 128 required). */
export const KEY_RANDOM_CHARS = 32;
/** Anything longer is not one of our keys; it is refused before hashing. */
export const MAX_KEY_LENGTH = 512;

/** A new API key: `sk-` followed by 32 random base62 characters. */
export function generateApiKey(): string {
  return `sk-${randomBase62(KEY_RANDOM_CHARS)}`;
}

/**
 * The only form of a key that is stored or compared: SHA-256 of its UTF-8 bytes. The key has
 * ≥ 128 bits of entropy, so a fast unsalted hash cannot be brute-forced, and it can be looked up
 * by a unique index in one step.
 */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The redacted form shown to admins and in principals: `sk-abc…wxyz`. */
export function displayApiKey(key: string): string {
  if (key.length < 12) return 'sk-…';
  return `${key.slice(0, 6)}…${key.slice(-4)}`;
}

/** Cheap shape check before hashing: our keys (and demo keys) start with `sk-` and are short. */
export function looksLikeApiKey(key: unknown): key is string {
  return typeof key === 'string' && key.length >= 8 && key.length <= MAX_KEY_LENGTH && key.startsWith('sk-');
}
