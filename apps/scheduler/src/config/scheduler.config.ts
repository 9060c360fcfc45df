import os from 'node:os';
import { z } from 'zod';
import { commonEnv, DEFAULT_MAX_EXPECTED_WAIT_MS, loadConfig, port } from '@switchyard/config';
import { POLICY_NAMES } from '../policy/policy.factory';
import { DEFAULT_RESIDENCY_AWARE_OPTIONS as POLICY, type ResidencyAwareOptions } from '../policy/residency-aware.options';

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const positive = (fallback: number) => z.coerce.number().positive().default(fallback);

/**
 * The scheduler's environment (see apps/scheduler/README.md for what each variable does). The
 * placement policy's parameters default to the policy's own defaults (`DEFAULT_RESIDENCY_AWARE_OPTIONS`),
 * the one place they are defined; the expected-wait bound to libs/config's, shared with the edge.
 */
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
    SCHEDULER_MIN_RESIDENCY_MS: z.coerce.number().int().nonnegative().default(POLICY.minResidencyMs),
    SCHEDULER_MAX_WAIT_MS: ms(POLICY.maxWaitMs),
    SCHEDULER_REPLICATE_WAIT_MS: ms(POLICY.replicateWaitMs),
    /** Share of SCHEDULER_MAX_WAIT_MS (oldest wait + load time) at which a cold model is forced: it may displace warm or backlogged models. */
    SCHEDULER_AGING_FORCE_FRACTION: z.coerce.number().positive().max(1).default(POLICY.agingForceFraction),
    /** Share of SCHEDULER_MAX_EXPECTED_WAIT_MS at which a model's expected wait gets it another replica. */
    SCHEDULER_REPLICATE_AT_FRACTION: z.coerce.number().positive().max(1).default(POLICY.replicateAtFraction),
    /** Share of SCHEDULER_MAX_EXPECTED_WAIT_MS at which a tail model's expected wait lets it displace the resident set before its round. */
    SCHEDULER_TAIL_URGENT_FRACTION: z.coerce.number().positive().max(1).default(POLICY.tailUrgentFraction),
    /** Bound on an interactive job's expected wait: beyond it a model gets another replica where a GPU can take it (the edge refuses beyond the same bound). */
    SCHEDULER_MAX_EXPECTED_WAIT_MS: ms(DEFAULT_MAX_EXPECTED_WAIT_MS),
    /** Mean service time of one job assumed for a queue before its own is measured (active jobs ÷ completions per second). */
    SCHEDULER_DEFAULT_SERVICE_MS: ms(POLICY.defaultServiceMs),
    /** Waiting jobs that make a batch: what displaces a model running jobs, or anything under contention (0 = the target worker's slots). */
    /** A cold model's few waiting jobs displace a resident model only after waiting this long (a batch or a starving model at once). */
    SCHEDULER_DISPLACE_AFTER_MS: z.coerce.number().int().nonnegative().default(POLICY.displaceAfterMs),
    SCHEDULER_BATCH_MIN_JOBS: z.coerce.number().int().nonnegative().default(POLICY.batchMinJobs),
    /** Tail rotation: a model outside its pool's resident set (by arrival rate) waits this long (oldest job + load) for a round before it displaces anything (0 = off). */
    SCHEDULER_TAIL_ROUND_WAIT_MS: z.coerce.number().int().nonnegative().default(POLICY.tailRoundWaitMs),
    /** Rotation room per pool, in model slots per worker, kept out of the resident set. */
    SCHEDULER_TAIL_SLOTS_PER_WORKER: z.coerce.number().min(0).max(8).default(POLICY.tailSlotsPerWorker),
    SCHEDULER_WORKER_TIMEOUT_MS: ms(10_000),
    SCHEDULER_RESTART_GRACE_MS: z.coerce.number().int().nonnegative().default(15_000),
    SCHEDULER_LOAD_TIMEOUT_MS: ms(300_000),
    SCHEDULER_LOAD_RETRY_MS: ms(30_000),
    SCHEDULER_LOAD_BANDWIDTH_GBPS: positive(POLICY.loadBandwidthBytesPerSec / 1e9),
    SCHEDULER_LOAD_OVERHEAD_S: z.coerce.number().nonnegative().default(POLICY.loadOverheadSeconds),
    /** Models one worker may hold at once; keep equal to Ollama's OLLAMA_MAX_LOADED_MODELS (3 by default). */
    SCHEDULER_MAX_MODELS_PER_WORKER: z.coerce.number().int().positive().default(POLICY.maxModelsPerWorker),
    /** A model with no job for this long is idle: the first to make room for another. */
    SCHEDULER_IDLE_AFTER_MS: ms(POLICY.idleAfterMs),
    /** A warm model is kept against waiting requests worth less than the requests it expects in this window. */
    SCHEDULER_KEEP_HORIZON_MS: ms(POLICY.keepHorizonMs),
    SCHEDULER_MEMORY_RESERVE_FRACTION: z.coerce.number().min(0).max(0.5).default(POLICY.memoryReserveFraction),
    /** Ollama's fit rule: next to loaded models a new one needs at most this share of the free GPU memory. */
    SCHEDULER_OLLAMA_FIT_FRACTION: z.coerce.number().positive().max(1).default(POLICY.ollamaFitFraction),
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

/** The residency-aware policy's options from the environment. */
export function policyOptions(c: SchedulerConfig): ResidencyAwareOptions {
  return {
    minResidencyMs: c.SCHEDULER_MIN_RESIDENCY_MS,
    maxWaitMs: c.SCHEDULER_MAX_WAIT_MS,
    agingForceFraction: c.SCHEDULER_AGING_FORCE_FRACTION,
    replicateAtFraction: c.SCHEDULER_REPLICATE_AT_FRACTION,
    tailUrgentFraction: c.SCHEDULER_TAIL_URGENT_FRACTION,
    replicateWaitMs: c.SCHEDULER_REPLICATE_WAIT_MS,
    maxExpectedWaitMs: c.SCHEDULER_MAX_EXPECTED_WAIT_MS,
    defaultServiceMs: c.SCHEDULER_DEFAULT_SERVICE_MS,
    batchMinJobs: c.SCHEDULER_BATCH_MIN_JOBS,
    memoryReserveFraction: c.SCHEDULER_MEMORY_RESERVE_FRACTION,
    loadBandwidthBytesPerSec: c.SCHEDULER_LOAD_BANDWIDTH_GBPS * 1e9,
    loadOverheadSeconds: c.SCHEDULER_LOAD_OVERHEAD_S,
    maxModelsPerWorker: c.SCHEDULER_MAX_MODELS_PER_WORKER,
    idleAfterMs: c.SCHEDULER_IDLE_AFTER_MS,
    keepHorizonMs: c.SCHEDULER_KEEP_HORIZON_MS,
    displaceAfterMs: c.SCHEDULER_DISPLACE_AFTER_MS,
    tailRoundWaitMs: c.SCHEDULER_TAIL_ROUND_WAIT_MS,
    tailSlotsPerWorker: c.SCHEDULER_TAIL_SLOTS_PER_WORKER,
    ollamaFitFraction: c.SCHEDULER_OLLAMA_FIT_FRACTION,
  };
}

export function loadSchedulerConfig(env: NodeJS.ProcessEnv = process.env): SchedulerConfig {
  return loadConfig(schedulerEnvSchema, env);
}
