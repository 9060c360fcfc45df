/**
 * VerifyKey latency over gRPC, with a warm and a cold cache.
 *
 *   npm run bench -- verify-key [--storage pglite|postgres|both] [--calls N] [--keys N]
 *
 * Starts the auth service as a child process (as in production: client and server do not share
 * an event loop), creates keys through the admin API, then times sequential VerifyKey calls from
 * a grpc-js client. "warm": the in-process verify cache holds every key. "cold": the service runs
 * with AUTH_VERIFY_CACHE_TTL_MS=0, so every call hashes the key and reads the database. It
 * measures; it does not pass or fail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
// The auth service's own test clients and environment (its admin API, gRPC client, PGlite seeding).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { adminHttp, AuthGrpcTestClient } from '../../../apps/auth/src/testing/test-clients';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { freshDataDir, seedPglite, testEnv, testSchema, type TestDbKind } from '../../../apps/auth/src/testing/test-env';

const ROOT = path.resolve(__dirname, '../../..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface Service {
  httpUrl: string;
  grpcAddress: string;
  token: string;
  stop(): Promise<void>;
}

async function startService(kind: TestDbKind, cacheTtlMs: number): Promise<Service> {
  const [port, grpcPort] = [await freePort(), await freePort()];
  const { dataDir, cleanup } = await freshDataDir();
  const token = `bench-admin-token-${Date.now()}`;
  const env: Record<string, string> = {
    PORT: String(port),
    AUTH_GRPC_URL: `127.0.0.1:${grpcPort}`,
    AUTH_DATA_DIR: dataDir,
    SWITCHYARD_ADMIN_TOKEN: token,
    SWITCHYARD_PREFIX: `authbench_${Date.now()}`,
    REDIS_URL: testEnv.REDIS_URL,
    AUTH_VERIFY_CACHE_TTL_MS: String(cacheTtlMs),
    LOG_LEVEL: 'warn',
  };
  let dropSchema = async () => undefined as void;
  if (kind === 'postgres') {
    const s = testSchema();
    env.DATABASE_URL = testEnv.TEST_DATABASE_URL;
    env.AUTH_DB_SCHEMA = s.schema;
    dropSchema = s.drop;
  } else {
    await seedPglite(dataDir);
  }
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'tools/scripts/run-ts.mjs'), path.join(ROOT, 'apps/auth/src/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const httpUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`auth exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${httpUrl}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('auth did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    httpUrl,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    token,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await dropSchema();
      cleanup();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Stats {
  p50: number;
  p99: number;
  mean: number;
  perSecond: number;
  concurrentPerSecond: number;
}

async function measure(svc: Service, keyCount: number, calls: number): Promise<Stats> {
  const admin = adminHttp(svc.httpUrl, svc.token);
  const user = await admin<{ id: string }>('POST', '/admin/v1/users', { name: 'bench' });
  const keys: string[] = [];
  for (let i = 0; i < keyCount; i++) {
    const res = await admin<{ key: string }>('POST', '/admin/v1/keys', { userId: user.body.id, policy: { requestsPerMinute: 600, tokenBudget: 1_000_000 } });
    keys.push(res.body.key);
  }
  const client = new AuthGrpcTestClient(svc.grpcAddress);
  try {
    // Warm-up: connection, JIT, and (when enabled) the cache holds every key.
    for (let i = 0; i < Math.max(500, keyCount); i++) {
      const r = await client.verifyKey(keys[i % keys.length]);
      if (!r.ok) throw new Error(`verify failed: ${r.code}`);
    }
    const samples: number[] = [];
    const started = performance.now();
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      const r = await client.verifyKey(keys[i % keys.length]);
      samples.push(performance.now() - t0);
      if (!r.ok) throw new Error(`verify failed: ${r.code}`);
    }
    const elapsed = performance.now() - started;
    const concurrency = 32;
    const cStarted = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < calls) {
          const i = next++;
          await client.verifyKey(keys[i % keys.length]);
        }
      }),
    );
    const cElapsed = performance.now() - cStarted;
    samples.sort((a, b) => a - b);
    return {
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      mean: samples.reduce((a, b) => a + b, 0) / samples.length,
      perSecond: (calls / elapsed) * 1000,
      concurrentPerSecond: (calls / cElapsed) * 1000,
    };
  } finally {
    client.close();
  }
}

export async function runVerifyKeyBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { storage: { type: 'string', default: 'both' }, calls: { type: 'string', default: '5000' }, keys: { type: 'string', default: '200' } } });
  const storage = values.storage;
  if (!['pglite', 'postgres', 'both'].includes(storage)) throw new Error('--storage pglite|postgres|both');
  const calls = Number(values.calls);
  const keyCount = Number(values.keys);
  const kinds: TestDbKind[] = storage === 'both' ? ['pglite', 'postgres'] : [storage as TestDbKind];
  const lines: string[] = [];
  for (const kind of kinds) {
    for (const [label, ttl] of [
      ['warm cache', 60_000],
      ['cold cache', 0],
    ] as const) {
      const svc = await startService(kind, ttl);
      try {
        const s = await measure(svc, keyCount, calls);
        const line =
          `VerifyKey over gRPC  storage=${kind.padEnd(8)} ${label}:  p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  ` +
          `mean ${s.mean.toFixed(3)} ms  sequential ${Math.round(s.perSecond)}/s  32 in flight ${Math.round(s.concurrentPerSecond)}/s`;
        console.log(line);
        lines.push(line);
      } finally {
        await svc.stop();
      }
    }
  }
  console.log(`\n${calls} sequential calls over ${keyCount} keys per row (then ${calls} calls with 32 in flight); Node ${process.version}.`);
  for (const l of lines) console.log(l);
}
