/**
 * The one catalogue of BullMQ queue names and Redis keys/channels. These values are persistent:
 * a running deployment has data under them, so do not rename one without a migration.
 *
 * Every name starts with the deployment prefix (env SWITCHYARD_PREFIX, default "sy"). Queue names
 * carry the pool and model; BullMQ adds its own `bull:`-style prefix, which we set to
 * `${prefix}:q` and wrap in a hash tag so one queue's keys land on one Redis Cluster slot.
 */

export type Pool = 'shared' | 'performance';

/** Model names contain ':' and '.', which BullMQ queue names may not; encode them reversibly. */
export function encodeModel(model: string): string {
  return encodeURIComponent(model).replace(/\./g, '%2E').replace(/:/g, '%3A');
}

export function decodeModel(encoded: string): string {
  return decodeURIComponent(encoded);
}

export const Queues = {
  /** BullMQ `prefix` option for every inference queue of a deployment. */
  bullPrefix: (prefix: string) => `${prefix}:q`,
  /** The queue of one (pool, model): every worker holding the model pulls from it. */
  inference: (pool: string, model: string) => `{inf-${pool}-${encodeModel(model)}}`,
  /** Parses a queue name made by `inference` back into its pool and model. */
  parseInference(name: string): { pool: string; model: string } | undefined {
    const m = /^\{inf-([a-z]+)-(.+)\}$/.exec(name);
    return m ? { pool: m[1], model: decodeModel(m[2]) } : undefined;
  },
} as const;

/**
 * The relay identity of the batch service: every replica subscribes to this one relay channel
 * (`RedisKeys.relayChannel(prefix, BATCH_RELAY_ID)`), so a line's result reaches whichever replica
 * is up, across restarts. Used as the `edgeId` of every batch line's InferenceJob.
 */
export const BATCH_RELAY_ID = 'batch';

/** The job (and request) id of one batch line: deterministic, so a line is enqueued and billed once across restarts. */
export function batchLineRequestId(batchId: string, line: number): string {
  return `${batchId}_l${line}`;
}

/** Field of a hash keyed by `(pool, model)` (load times, bulk demand): `pool|model`. */
export function poolModelField(pool: string, model: string): string {
  return `${pool}|${model}`;
}

/** Parses a `poolModelField` back (the pool never contains '|'; a model may). */
export function parsePoolModelField(field: string): { pool: string; model: string } | undefined {
  const i = field.indexOf('|');
  return i > 0 && i < field.length - 1 ? { pool: field.slice(0, i), model: field.slice(i + 1) } : undefined;
}

/**
 * Life of `RedisKeys.bulkDemand`: the batch service rewrites it every pass (about every second); if
 * no replica has rewritten it for this long, the batch service is gone and its demand disappears.
 */
export const BULK_DEMAND_TTL_MS = 15_000;

export const RedisKeys = {
  /** Pub/sub: auth publishes key revocations and policy changes; edges drop cached verdicts. */
  authEventsChannel: (prefix: string) => `${prefix}:auth:events`,
  /** Pub/sub channel one edge instance listens on for the chunks of its in-flight requests. */
  relayChannel: (prefix: string, edgeId: string) => `${prefix}:relay:${edgeId}`,
  /**
   * Stream of usage entries (`UsageEntry` JSON in field `USAGE_ENTRY_FIELD`): workers append one per
   * finished request, auth's consumer group `USAGE_CONSUMER_GROUP` writes them to the ledger in
   * batches, then acknowledges and deletes them. Entries wait here while auth is down.
   */
  usageStream: (prefix: string) => `${prefix}:usage`,
  /** Pub/sub: cancellations of running jobs (workers abort the Ollama request). */
  cancelChannel: (prefix: string) => `${prefix}:cancel`,
  /** Sorted-set window of a key's requests for the requests-per-minute limit. */
  rateRequests: (prefix: string, keyId: string) => `${prefix}:rl:req:${keyId}`,
  /** Sorted-set window of a key's tokens for the tokens-per-minute limit. */
  rateTokens: (prefix: string, keyId: string) => `${prefix}:rl:tok:${keyId}`,
  /** Hash: model -> JSON of its residency (which workers hold it), written by the scheduler. */
  residency: (prefix: string) => `${prefix}:residency`,
  /** Hash: worker id -> JSON of its last status, written by the scheduler (recovery after restart). */
  workers: (prefix: string) => `${prefix}:workers`,
  /** Hash: "pool|model" -> observed load seconds (for Retry-After estimates). */
  loadTimes: (prefix: string) => `${prefix}:load-times`,
  /**
   * Hash: `poolModelField(pool, model)` -> lines of running batches not yet in a queue (state
   * `pending`), written by the batch service as a whole snapshot every runner pass (a field at 0 is
   * absent) with a PEXPIRE of `BULK_DEMAND_TTL_MS`; read by the scheduler as bulk demand to plan for.
   */
  bulkDemand: (prefix: string) => `${prefix}:bulk-demand`,
  /**
   * Hash of one `(pool, model)` queue's class (fair share, `libs/redis` claimPlace): key -> the
   * fair-share tag its next job starts at, and `~v` -> the queue's virtual time (the tag at the head).
   * Carries the queue's hash tag, so it lives in the queue's Redis Cluster slot.
   */
  fairShare: (prefix: string, queueName: string, cls: string) => `${prefix}:fair:${queueName}:${cls}`,
  /**
   * Sorted set of one `(pool, model)` queue's deferred demand: requests the edge refused for their
   * expected wait and told to come back (member: `<key id> <request fingerprint or -> <request id>`,
   * written and matched by libs/redis DeferredDemand; score: the unix ms, by Redis's clock, at which
   * it was told to come back). Edges count those still to come back in a refusal's
   * Retry-After; the scheduler counts them as demand beside the queue (libs/redis DeferredDemand).
   * Carries the queue's hash tag, so it lives in the queue's Redis Cluster slot.
   */
  deferred: (prefix: string, queueName: string) => `${prefix}:deferred:${queueName}`,
  /** String `<replicaId>:<fencing token>` with a TTL: the scheduler replica that leads (holds the lease). */
  schedulerLeader: (prefix: string) => `${prefix}:scheduler:leader`,
  /** Counter INCRed by each scheduler replica that acquires the lease: its fencing token. */
  schedulerFence: (prefix: string) => `${prefix}:scheduler:fence`,
} as const;
