import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BATCH_CALLER_HEADER,
  BATCH_INTERNAL_TOKEN_HEADER,
  encodeBatchCaller,
  modelCatalogueSchema,
  resolveCatalogue,
  type BatchCaller,
  type CatalogueModel,
} from '@switchyard/contracts';
import { createLogger } from '@switchyard/observability';
import { startBatchApp, type RunningBatchApp } from '../batch-app';
import { batchEnvSchema } from '../config/batch.config';

export const TEST_TOKEN = 'test-internal-token-0123456789';
export const TEST_MODELS = { chat: 'tiny:1b', chat2: 'small:3b', embed: 'embed:small' } as const;

export const testCatalogue: CatalogueModel[] = resolveCatalogue(
  modelCatalogueSchema.parse({
    models: [
      { name: TEST_MODELS.chat, size_gb: 1 },
      { name: TEST_MODELS.chat2, size_gb: 2 },
      { name: TEST_MODELS.embed, size_gb: 0.5, kind: 'embedding' },
    ],
  }),
);

export function caller(userId: string, overrides: Partial<BatchCaller['policy']> = {}, budgetUsed = 0): BatchCaller {
  return { userId, keyId: `key_${userId}`, policy: { allModels: true, allowedModels: [], pool: null, priority: 'bulk', tokenBudget: 0, ...overrides }, budgetUsed };
}

export function tempDataDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-batch-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts the batch app on a free port with the test catalogue. */
export async function startTestBatch(env: { dataDir: string; prefix: string; redisUrl: string; window?: number }): Promise<RunningBatchApp> {
  const config = batchEnvSchema.parse({
    PORT: '0',
    REDIS_URL: env.redisUrl,
    SWITCHYARD_PREFIX: env.prefix,
    BATCH_INTERNAL_TOKEN: TEST_TOKEN,
    BATCH_DATA_DIR: env.dataDir,
    BATCH_WINDOW_PER_MODEL: String(env.window ?? 32),
    BATCH_TICK_MS: '100',
    BATCH_RECOVER_INTERVAL_MS: '500',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  });
  return startBatchApp(config, testCatalogue, createLogger({ service: 'batch', level: config.LOG_LEVEL }));
}

/** A client of the batch API as the edge calls it. */
export class BatchClient {
  constructor(
    private readonly baseUrl: string,
    readonly who: BatchCaller,
  ) {}

  headers(): Record<string, string> {
    return { [BATCH_INTERNAL_TOKEN_HEADER]: TEST_TOKEN, [BATCH_CALLER_HEADER]: encodeBatchCaller(this.who) };
  }

  async json(method: string, p: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.baseUrl}${p}`, {
      method,
      headers: { ...this.headers(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async upload(content: string | Buffer, purpose = 'batch', filename = 'input.jsonl'): Promise<{ status: number; body: Record<string, unknown> }> {
    const form = new FormData();
    form.append('purpose', purpose);
    form.append('file', new Blob([content]), filename);
    const res = await fetch(`${this.baseUrl}/v1/files`, { method: 'POST', headers: this.headers(), body: form });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async content(fileId: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.baseUrl}/v1/files/${fileId}/content`, { headers: this.headers() });
    return { status: res.status, text: await res.text() };
  }

  /** Polls a batch until it reaches one of `statuses`. */
  async waitFor(batchId: string, statuses: readonly string[], timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.json('GET', `/v1/batches/${batchId}`);
      if (statuses.includes(String(body.status))) return body;
      if (Date.now() > until) throw new Error(`batch ${batchId} still ${String(body.status)} after ${timeoutMs} ms: ${JSON.stringify(body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** JSONL of chat lines for `model`. */
export function chatLines(n: number, model: string, start = 0): string {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({ custom_id: `req-${start + i}`, method: 'POST', url: '/v1/chat/completions', body: { model, messages: [{ role: 'user', content: `Say ${start + i}` }] } }),
  ).join('\n');
}
