/** Boots the scheduler in-process against the machine's Redis, with a throw-away key prefix. */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { createHttpApp, createLogger } from '@switchyard/observability';
import { AppModule } from '../app.module';
import { loadSchedulerCatalogue } from '../config/catalogue';
import { loadSchedulerConfig, SchedulerConfig } from '../config/scheduler.config';
import { PlacementGateway } from '../placement/placement.gateway';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Two 5 GB models with a 1024-token context: one needs ≈ 5.8 GB with 4 slots. */
export const TEST_CATALOGUE_YAML = `defaults: { context_window: 1024, pool: shared }
models:
  - { name: "x:7b", size_gb: 5 }
  - { name: "y:7b", size_gb: 5 }
`;

export function newPrefix(): string {
  return `sytest-${randomBytes(4).toString('hex')}`;
}

export function writeCatalogue(yaml = TEST_CATALOGUE_YAML): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'sy-sched-')), 'models.yaml');
  writeFileSync(file, yaml);
  return file;
}

export interface RunningScheduler {
  app: NestFastifyApplication;
  config: SchedulerConfig;
  grpcAddress: string;
  httpUrl: string;
  close(): Promise<void>;
}

export async function startScheduler(env: Record<string, string>): Promise<RunningScheduler> {
  const config = loadSchedulerConfig({
    REDIS_URL: TEST_REDIS_URL,
    SCHEDULER_GRPC_URL: '127.0.0.1:0',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SCHEDULER_TICK_MS: '100',
    SCHEDULER_WORKER_TIMEOUT_MS: '1000',
    SCHEDULER_STALLED_INTERVAL_MS: '300',
    ...env,
  });
  const logger = createLogger({ service: 'scheduler', level: config.LOG_LEVEL });
  const app = await createHttpApp(AppModule.forRoot(config, loadSchedulerCatalogue(config), logger), { logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    config,
    grpcAddress: app.get(PlacementGateway).address,
    httpUrl: await app.getUrl(),
    close: () => app.close(),
  };
}

/** Deletes every key under the prefix. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * One test file's connection to the machine's Redis, its throw-away prefixes (dropped at the end)
 * and its cleanups (run in reverse at the end), registered with node:test's before/after.
 */
export function testScope(): { redis: Redis; prefixes: string[]; cleanups: Array<() => Promise<unknown> | unknown> } {
  const scope = { redis: new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null }), prefixes: [] as string[], cleanups: [] as Array<() => Promise<unknown> | unknown> };
  before(async () => {
    await scope.redis.ping();
  });
  after(async () => {
    for (const c of scope.cleanups.reverse()) await c();
    for (const p of scope.prefixes) await dropPrefix(scope.redis, p);
    await scope.redis.quit();
  });
  return scope;
}
