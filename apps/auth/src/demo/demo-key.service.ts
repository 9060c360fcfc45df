import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { ApiKeysService } from '../api-keys/api-keys.service';
import type { ApiKeyRecord } from '../api-keys/api-keys.repository';
import { AUTH_CONFIG, DEMO_KEY_PATTERN, type AuthConfig } from '../config/auth.config';
import { DEFAULT_POLICY } from '../policies/policy';

export const DEMO_USER = 'demo';

/**
 * Makes sure user `demo` exists and owns exactly this key, active, with every model and no
 * limits. Idempotent: safe at every boot. This is what the one-command launcher relies on
 * (it sets SWITCHYARD_DEMO_KEY); it can also be called with the app's ApiKeysService.
 */
export async function ensureDemoKey(keys: ApiKeysService, key: string): Promise<{ record: ApiKeyRecord; created: boolean }> {
  if (!DEMO_KEY_PATTERN.test(key)) throw new Error('demo key must be sk- followed by 16-200 characters [A-Za-z0-9._-]');
  return keys.ensureKey(DEMO_USER, key, { ...DEFAULT_POLICY }, 'demo');
}

/** Runs ensureDemoKey at boot when SWITCHYARD_DEMO_KEY is set (before the gRPC server opens). */
@Injectable()
export class DemoKeyService implements OnModuleInit {
  private readonly logger: Logger;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    private readonly keys: ApiKeysService,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.logger = rootLogger.child({ context: DemoKeyService.name });
  }

  async onModuleInit(): Promise<void> {
    const key = this.config.SWITCHYARD_DEMO_KEY;
    if (!key) return;
    const { record, created } = await ensureDemoKey(this.keys, key);
    this.logger.info({ user: DEMO_USER, keyId: record.id, display: record.display, created }, 'demo key ready');
  }
}
