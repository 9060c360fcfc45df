import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { commonEnv, DEFAULT_MAX_EXPECTED_WAIT_MS, loadConfig, port } from '@switchyard/config';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The edge's environment, parsed once at boot (see apps/edge/README.md for each variable). */
export const edgeEnvSchema = z.object({
  ...commonEnv,
  PORT: port(8080),
  /** host:port of the auth service's gRPC API. */
  AUTH_GRPC_URL: z.string().min(1).default('127.0.0.1:50051'),
  /** Deadline of one VerifyKey call. */
  AUTH_TIMEOUT_MS: positiveInt(2000),
  /** How long a verdict is cached in-process (revocations drop it sooner, via Redis events). */
  EDGE_AUTH_CACHE_TTL_MS: positiveInt(30_000),
  MODEL_CATALOGUE: z.string().min(1).default('deploy/models.yaml'),
  /**
   * An interactive request is admitted when its expected wait for a worker slot — the jobs that would
   * run before it × the model's service time ÷ the slots serving it, plus the load time if no GPU
   * holds the model — is within this bound (ms); otherwise 503 with Retry-After saying when it would
   * be. A cold model always admits one round (as many requests as it has slots).
   */
  EDGE_MAX_EXPECTED_WAIT_MS: positiveInt(DEFAULT_MAX_EXPECTED_WAIT_MS),
  /**
   * An interactive request whose client says it is its retry number this or later
   * (`x-stainless-retry-count`: the `openai` and Anthropic SDKs retry twice by default, so this is
   * their last try) is admitted when its expected wait is within half its client's timeout
   * (`x-stainless-timeout`, at most EDGE_REQUEST_TIMEOUT_MS), not EDGE_MAX_EXPECTED_WAIT_MS:
   * refused again it would be lost, having come back when told. 0: the bound applies to every try.
   */
  EDGE_LAST_RETRY_COUNT: z.coerce.number().int().nonnegative().default(2),
  /** Queued interactive jobs allowed per (pool, model) queue before new interactive ones get 503 (bulk jobs behind them do not count): a memory guard behind the expected-wait bound. */
  EDGE_QUEUE_BOUND: positiveInt(256),
  /** The same bound for keys of priority `bulk`, whose jobs wait behind interactive ones: deep, so bulk work is queued, not refused. */
  EDGE_BULK_QUEUE_BOUND: positiveInt(10_000),
  /** Largest request body, bytes (images travel as base64 data URLs). */
  EDGE_MAX_BODY_BYTES: positiveInt(10 * 1024 * 1024),
  /** Largest max_tokens any request may ask for, whatever the model allows. */
  EDGE_MAX_TOKENS_CAP: positiveInt(32_768),
  /** An SSE comment is sent when a stream has been silent this long. */
  EDGE_KEEPALIVE_MS: positiveInt(5000),
  /** Longest a request may take from arrival to its last byte before it is cancelled. */
  EDGE_REQUEST_TIMEOUT_MS: positiveInt(600_000),
  /** Service time per job assumed for a model before any job of it finished (Retry-After estimates). */
  EDGE_DEFAULT_SERVICE_MS: positiveInt(4000),
  /** This edge instance's id: names its relay channel. Random by default. */
  EDGE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default(() => `edge-${randomBytes(6).toString('hex')}`),
  /** The batch service (apps/batch) behind /v1/files and /v1/batches; `none`: those routes answer 404. */
  BATCH_URL: z.union([z.literal('none'), z.string().url()]).default('http://127.0.0.1:8084'),
  /** The secret the batch service requires of the edge (its BATCH_INTERNAL_TOKEN); without it those routes answer 503. */
  BATCH_INTERNAL_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
});

export type EdgeConfig = z.infer<typeof edgeEnvSchema>;

export const EDGE_CONFIG = Symbol('EDGE_CONFIG');

export function loadEdgeConfig(env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  return loadConfig(edgeEnvSchema, env);
}
