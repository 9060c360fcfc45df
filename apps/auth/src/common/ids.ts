import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * `length` characters drawn uniformly from [0-9A-Za-z] with a CSPRNG (rejection sampling, so no
 * character is more likely than another). Each character carries log2(62) ≈ 5.95 bits.
 */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const bytes = randomBytes(Math.ceil((length - out.length) * 1.25) + 4);
    for (const b of bytes) {
      if (b >= 248) continue; // 248 = 62 * 4: keep only bytes that map uniformly
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export type IdPrefix = 'usr' | 'key';

/** A public identifier such as `key_3fZk9Qw1mB7xT0aP` (16 base62 characters, ~95 bits). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBase62(16)}`;
}

export const ID_PATTERN = /^(usr|key)_[0-9A-Za-z]{16}$/;
