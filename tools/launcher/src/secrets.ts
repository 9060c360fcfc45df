import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `prefix` + 32 base62 characters (≈190 random bits). */
export function randomToken(prefix: string): string {
  const bytes = randomBytes(32);
  let out = '';
  for (const b of bytes) out += BASE62[b % 62];
  return prefix + out;
}

/**
 * A secret that survives restarts: the value given, else the one stored in `file` on a previous
 * start, else a new one stored there with mode 0600.
 */
export function persistentSecret(given: string | undefined, file: string, make: () => string): { value: string; source: 'env' | 'file' | 'new' } {
  if (given) return { value: given, source: 'env' };
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), source: 'file' };
  mkdirSync(path.dirname(file), { recursive: true });
  const value = make();
  writeFileSync(file, value + '\n', { mode: 0o600 });
  return { value, source: 'new' };
}
