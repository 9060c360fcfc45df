import os from 'node:os';
import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';
import { POLICY_NAMES } from '../policy/policy.factory';

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const positive = (fallback: number) => z.coerce.number().positive().default(fallback);

/** The scheduler's environment (see apps/scheduler/README.md for what each variable does). */
export const schedulerEnvSchema = z
  .object({
    ...commonEnv,
    PORT: port(8082),
    /** host:port the placement.v1 gRPC server binds (port 0 picks a free one). */
    SCHEDULER_GRPC_URL: z
      .string()
      .transform((v) => v.replace(/^grpc:\/\//, ''))
      .pipe(z.string().regex(/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/, 'expected host:port'))
      .default('127.0.0.1:50052'),
    MODEL_CATALOGUE: z.string().min(1).default('deploy/models.yaml'),
    SCHEDULER_POLICY: z.enum(POLICY_NAMES).default('residency-aware'),
    SCHEDULER_TICK_MS: ms(500),
    SCHEDULER_MIN_RESIDENCY_MS: z.coerce.number().int().nonnegative().default(5_000),
    SCHEDULER_MAX_WAIT_MS: ms(60_000),
    SCHEDULER_REPLICATE_WAIT_MS: ms(10_000),
    /** Waiting jobs that make a batch: what displaces a model running jobs, or anything under contention (0 = the target worker's slots). */
    SCHEDULER_BATCH_MIN_JOBS: z.coerce.number().int().nonnegative().default(0),
    SCHEDULER_WORKER_TIMEOUT_MS: ms(10_000),
    SCHEDULER_RESTART_GRACE_MS: z.coerce.number().int().nonnegative().default(15_000),
    SCHEDULER_LOAD_TIMEOUT_MS: ms(300_000),
    SCHEDULER_LOAD_RETRY_MS: ms(30_000),
    SCHEDULER_LOAD_BANDWIDTH_GBPS: positive(10),
    SCHEDULER_LOAD_OVERHEAD_S: z.coerce.number().nonnegative().default(1.5),
    /** Models one worker may hold at once; keep equal to Ollama's OLLAMA_MAX_LOADED_MODELS (3 by default). */
    SCHEDULER_MAX_MODELS_PER_WORKER: z.coerce.number().int().positive().default(3),
    /** A model with no job for this long is idle: the first to make room for another. */
    SCHEDULER_IDLE_AFTER_MS: ms(10_000),
    /** A warm model is kept against waiting requests worth less than the requests it expects in this window. */
    SCHEDULER_KEEP_HORIZON_MS: ms(10_000),
    SCHEDULER_MEMORY_RESERVE_FRACTION: z.coerce.number().min(0).max(0.5).default(0.05),
    /** Ollama's fit rule: next to loaded models a new one needs at most this share of the free GPU memory. */
    SCHEDULER_OLLAMA_FIT_FRACTION: z.coerce.number().positive().max(1).default(0.8),
    /** Time constant of each queue's arrival-rate average. */
    SCHEDULER_RATE_TAU_MS: ms(60_000),
    /** How often the scheduler runs BullMQ's stalled-job check on queues whose pullers are gone. */
    SCHEDULER_STALLED_INTERVAL_MS: ms(15_000),
    /** BullMQ maxStalledCount used by that check; keep it equal to the workers' setting. */
    SCHEDULER_MAX_STALLED_COUNT: z.coerce.number().int().nonnegative().default(1),
    /** This replica's name in the leader lease (`<replica id>:<fencing token>`); default `<hostname>:<pid>`. */
    SCHEDULER_REPLICA_ID: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/)
      .default(() => `${os.hostname()}:${process.pid}`),
    /** Life of the leader lease: a dead leader is replaced about this long after its last renewal. */
    SCHEDULER_LEASE_TTL_MS: ms(5_000),
    /** How often the leader renews the lease (0 = a third of the TTL). */
    SCHEDULER_LEASE_RENEW_MS: z.coerce.number().int().nonnegative().default(0),
    /** How often a standby tries to take the lease. */
    SCHEDULER_LEASE_RETRY_MS: ms(1_000),
    /** The leader rewrites every residency entry, worker snapshot and load time this often (Redis may have restarted empty). */
    SCHEDULER_REPUBLISH_MS: ms(3_000),
  })
  .transform((env) => ({ ...env, SCHEDULER_LEASE_RENEW_MS: env.SCHEDULER_LEASE_RENEW_MS || Math.max(1, Math.floor(env.SCHEDULER_LEASE_TTL_MS / 3)) }))
  .refine((env) => env.SCHEDULER_LEASE_RENEW_MS < env.SCHEDULER_LEASE_TTL_MS, {
    message: 'must be shorter than SCHEDULER_LEASE_TTL_MS',
    path: ['SCHEDULER_LEASE_RENEW_MS'],
  });

export type SchedulerConfig = z.infer<typeof schedulerEnvSchema>;

export const SCHEDULER_CONFIG = Symbol('SCHEDULER_CONFIG');

export function loadSchedulerConfig(env: NodeJS.ProcessEnv = process.env): SchedulerConfig {
  return loadConfig(schedulerEnvSchema, env);
}
