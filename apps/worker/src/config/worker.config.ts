import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';

/** `none` switches a gRPC dependency off (static mode, tests, simple setups). */
const grpcTarget = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) => (v.trim().toLowerCase() === 'none' ? null : v.trim()));

/** A comma-separated list of gRPC addresses, tried in turn (normalised to `a,b`), or `none`. */
const grpcTargets = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      if (v.trim().toLowerCase() === 'none') return null;
      const targets = v
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0);
      if (targets.length === 0 || targets.some((t) => /\s/.test(t))) {
        ctx.addIssue({ code: 'custom', message: 'expected host:port[,host:port...] or none' });
        return z.NEVER;
      }
      return targets.join(',');
    });

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

const modelList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m.length > 0),
  );

export const workerEnvSchema = z
  .object({
    ...commonEnv,
    PORT: port(8083),
    /** The Ollama this worker sits beside. */
    OLLAMA_URL: z.string().url().default('http://127.0.0.1:11434'),
    /** Stable id of this worker; default `<hostname>:<PORT>`. */
    WORKER_ID: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/).optional(),
    WORKER_POOL: z.enum(['shared', 'performance']).default('shared'),
    /** Parallel slots per resident model (Ollama's OLLAMA_NUM_PARALLEL): the BullMQ concurrency. */
    WORKER_SLOTS: positiveInt(4),
    /** GPU memory; when unset it is discovered (a simulated Ollama's /sim/stats, nvidia-smi), else unknown (0, no `total` metric). */
    WORKER_GPU_MEMORY_GB: z.coerce.number().positive().optional(),
    /** Scheduler replicas' placement gRPC addresses, comma-separated (the leader accepts, standbys refuse), or `none` (no Attach: static mode). */
    SCHEDULER_GRPC_URL: grpcTargets('127.0.0.1:50052'),
    /** Auth's gRPC address, or `none`: no auth, so usage is not recorded (with auth, usage goes to it through the usage stream in Redis, `RedisKeys.usageStream`). */
    AUTH_GRPC_URL: grpcTarget('127.0.0.1:50051'),
    /** Model catalogue, relative to the working directory or the repository root. */
    MODEL_CATALOGUE: z.string().default('deploy/models.yaml'),
    /** Static mode: models loaded at start without a scheduler (comma-separated). */
    WORKER_MODELS: modelList,
    WORKER_STATUS_INTERVAL_MS: positiveInt(1000),
    /** BullMQ lock of a running job; renewed every half of it while the job runs. */
    WORKER_LOCK_DURATION_MS: positiveInt(60_000),
    /** Relay coalescing: at most one chunk publish per this many ms per request. */
    WORKER_RELAY_COALESCE_MS: nonNegativeInt(10),
    /** Attach reconnect backoff (exponential with jitter between these bounds). */
    WORKER_RECONNECT_MIN_MS: positiveInt(250),
    WORKER_RECONNECT_MAX_MS: positiveInt(10_000),
    /** How often an unreachable Ollama is probed before pulling resumes. */
    WORKER_OLLAMA_PROBE_MS: positiveInt(500),
    /** A worker stays "degraded" this long after Ollama's last failure. */
    WORKER_DEGRADED_HOLD_MS: positiveInt(10_000),
    /** Longest wait for a model load (a cold 70B load from slow storage takes minutes). */
    WORKER_LOAD_TIMEOUT_MS: positiveInt(600_000),
    /** On SIGTERM, longest wait for in-flight jobs before closing anyway (they become stalled and rerun). */
    WORKER_DRAIN_TIMEOUT_MS: positiveInt(600_000),
    /** Attempts to append a usage entry to the usage stream before it is given up (logged). */
    WORKER_USAGE_ATTEMPTS: positiveInt(5),
  })
  .transform((env) => ({
    ...env,
    WORKER_ID: env.WORKER_ID ?? `${os.hostname()}:${env.PORT}`,
  }));

export type WorkerConfig = z.infer<typeof workerEnvSchema>;

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadConfig(workerEnvSchema, env);
}

/** The repository root, found from this file (apps/worker/src/config). */
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** Resolves MODEL_CATALOGUE: absolute as is; relative to the cwd if it exists there, else to the repository root. */
export function resolveCataloguePath(file: string, cwd: string = process.cwd()): string {
  if (path.isAbsolute(file)) return file;
  const fromCwd = path.resolve(cwd, file);
  if (existsSync(fromCwd)) return fromCwd;
  return path.resolve(REPO_ROOT, file);
}
