import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { AUTH_CONFIG, type AuthConfig } from '../config/auth.config';

export const ADMIN_TOKEN_FILE = 'admin-token';

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Path of the generated admin token inside a data folder. */
export function adminTokenPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), ADMIN_TOKEN_FILE);
}

/**
 * The admin token: SWITCHYARD_ADMIN_TOKEN, or else one generated at first boot and kept in
 * `<AUTH_DATA_DIR>/admin-token` (mode 0600; reused by later boots and read by the CLI). Only its
 * SHA-256 is held in memory; the token itself is never logged.
 */
@Injectable()
export class AdminTokenService {
  private readonly digest: Buffer;

  constructor(@Inject(AUTH_CONFIG) config: AuthConfig, @Inject(ROOT_LOGGER) rootLogger: Logger) {
    const logger = rootLogger.child({ context: AdminTokenService.name });
    if (config.SWITCHYARD_ADMIN_TOKEN) {
      this.digest = sha256(config.SWITCHYARD_ADMIN_TOKEN);
      return;
    }
    const file = adminTokenPath(config.AUTH_DATA_DIR);
    const existing = readTokenFile(file);
    if (existing) {
      this.digest = sha256(existing);
      logger.info({ file }, 'SWITCHYARD_ADMIN_TOKEN is unset; using the admin token generated earlier in this file');
      return;
    }
    const token = `sya_${randomBytes(32).toString('base64url')}`;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    this.digest = sha256(token);
    logger.warn({ file }, 'SWITCHYARD_ADMIN_TOKEN is unset; generated an admin token and wrote it to this file (mode 0600)');
  }

  /** Constant-time comparison of SHA-256 digests (equal length whatever the input). */
  matches(candidate: string): boolean {
    return timingSafeEqual(sha256(candidate), this.digest);
  }
}

/** The token in a token file, or undefined when there is none. */
export function readTokenFile(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const token = readFileSync(file, 'utf8').trim();
  return token.length >= 16 ? token : undefined;
}
