import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { createLogger } from '@switchyard/observability';
import { loadEdgeConfig, type EdgeConfig } from '../config/edge.config';
import { createEdgeApp } from '../edge.app';
import { FakeAuthServer, type TestKey } from './fake-auth.server';
import { FakeWorker, type QueueRef } from './fake-worker';

/** The catalogue the edge tests run with: small context for `tiny:1b`, a model no worker serves. */
export const TEST_CATALOGUE = `
defaults: { context_window: 8192, pool: shared }
models:
  - { name: "llama3.1:8b", size_gb: 4.9 }
  - { name: "codellama:13b", size_gb: 7.4 }
  - { name: "llava:13b", size_gb: 8.0 }
  - { name: "tiny:1b", size_gb: 1, context_window: 512, max_output_tokens: 128 }
  - { name: "cold:70b", size_gb: 40 }
  - { name: "bulk:7b", size_gb: 4, pool: performance }
  - { name: "nomic-embed-text", size_gb: 0.27, kind: embedding, context_window: 2048 }
`;

export const DEFAULT_QUEUES: QueueRef[] = [
  { pool: 'shared', model: 'llama3.1:8b' },
  { pool: 'shared', model: 'codellama:13b' },
  { pool: 'shared', model: 'llava:13b' },
  { pool: 'shared', model: 'tiny:1b' },
  { pool: 'shared', model: 'nomic-embed-text' },
];

/** The key every test may use: every model, no limits. */
export const ALL_KEY = 'sk-test-all-models-0123456789abcdef';

export interface HarnessOptions {
  env?: Record<string, string>;
  keys?: Record<string, TestKey>;
  queues?: QueueRef[];
  /** Where the edge's log lines go (with `env.LOG_LEVEL`), for tests that assert on them. */
  logDestination?: Writable;
}

export interface EdgeHarness {
  url: string;
  prefix: string;
  config: EdgeConfig;
  app: NestFastifyApplication;
  auth: FakeAuthServer;
  worker: FakeWorker;
  redis: Redis;
  /** The official client, pointed at `/v1` (or `/api` with base 'api'). */
  client(apiKey?: string, base?: 'v1' | 'api', opts?: { maxRetries?: number }): OpenAI;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Starts an edge in-process on a random port against the real Redis with a random
 * SWITCHYARD_PREFIX, a fake auth gRPC server and a fake worker pulling the given queues.
 */
export async function startEdgeHarness(opts: HarnessOptions = {}): Promise<EdgeHarness> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-edge-'));
  const catalogue = path.join(dir, 'models.yaml');
  writeFileSync(catalogue, TEST_CATALOGUE);

  const auth = new FakeAuthServer(REDIS_URL, prefix);
  auth.add(ALL_KEY, { keyId: 'key-all', userId: 'user-1' });
  for (const [k, v] of Object.entries(opts.keys ?? {})) auth.add(k, v);
  const authUrl = await auth.start();

  const worker = new FakeWorker(REDIS_URL, prefix, opts.queues ?? DEFAULT_QUEUES);
  await worker.start();

  const config = loadEdgeConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL,
    SWITCHYARD_PREFIX: prefix,
    AUTH_GRPC_URL: authUrl,
    MODEL_CATALOGUE: catalogue,
    EDGE_KEEPALIVE_MS: '100',
    LOG_LEVEL: process.env.EDGE_TEST_LOG_LEVEL ?? 'silent',
    ...opts.env,
  });
  const logger = createLogger({ service: 'edge', level: config.LOG_LEVEL, destination: opts.logDestination });
  const app = await createEdgeApp(config, logger);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });

  return {
    url,
    prefix,
    config,
    app,
    auth,
    worker,
    redis,
    client: (apiKey = ALL_KEY, base = 'v1', o = {}) =>
      new OpenAI({ apiKey, baseURL: `${url}/${base}`, maxRetries: o.maxRetries ?? 0, timeout: 20_000 }),
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    close: async () => {
      await app.close();
      await worker.close();
      await auth.stop();
      await deleteByPrefix(redis, prefix);
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Reads an SSE response into its events: `data` payloads and comment lines, in order. */
export async function readSse(res: Response): Promise<Array<{ data?: string; comment?: string }>> {
  const text = await res.text();
  const events: Array<{ data?: string; comment?: string }> = [];
  for (const block of text.split('\n\n')) {
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) events.push({ comment: line.slice(1).trim() });
      else if (line.startsWith('data: ')) events.push({ data: line.slice(6) });
    }
  }
  return events;
}

export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 2000, stepMs = 10): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
