import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { USAGE_ENTRY_FIELD, type UsageEntry } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

export const USAGE_TRANSPORT = Symbol('USAGE_TRANSPORT');

/** Where usage entries go; null when AUTH_GRPC_URL=none (no auth: usage is not recorded). */
export interface UsageTransport {
  append(entry: UsageEntry): Promise<void>;
}

/**
 * Appends usage entries to the usage stream (`RedisKeys.usageStream`), which auth's consumer group
 * reads into the ledger in batches: one XADD per request on the worker's command connection, sent
 * with the relay's publishes, and no call to auth on the worker's side. An entry waits in the stream
 * while auth is down.
 */
export class RedisUsageTransport implements UsageTransport {
  constructor(
    private readonly redis: Pick<Redis, 'xadd'>,
    private readonly key: string,
  ) {}

  async append(entry: UsageEntry): Promise<void> {
    await this.redis.xadd(this.key, '*', USAGE_ENTRY_FIELD, JSON.stringify(entry));
  }
}

/** What the processor records: a `UsageEntry` without the worker's id (the recorder adds it). */
export type UsageRecord = Omit<UsageEntry, 'workerId'>;

/**
 * Records usage for auth, keyed by request id (auth ignores a second row for the same id, so a
 * job run twice is billed once). Recording runs in the background and never fails a job: when Redis
 * does not take the entry it retries with backoff a few times, then logs the lost row.
 */
@Injectable()
export class UsageRecorder {
  private readonly pending = new Set<Promise<void>>();
  private readonly log: Logger;
  private closed = false;
  /** First retry delay; doubles per attempt (tests shorten it). */
  retryBaseMs = 250;

  constructor(
    @Inject(USAGE_TRANSPORT) private readonly transport: UsageTransport | null,
    @Inject(WORKER_CONFIG) private readonly config: Pick<WorkerConfig, 'WORKER_ID' | 'WORKER_USAGE_ATTEMPTS'>,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: UsageRecorder.name });
  }

  record(rec: UsageRecord): void {
    if (!this.transport || this.closed) return;
    const p = this.send(this.transport, rec).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits (bounded) for rows still being sent; used on shutdown. */
  async flush(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    if (timer) clearTimeout(timer);
    if (this.pending.size > 0) this.log.warn({ rows: this.pending.size }, 'usage rows still unsent at shutdown');
  }

  close(): void {
    this.closed = true;
  }

  private async send(transport: UsageTransport, rec: UsageRecord): Promise<void> {
    const entry: UsageEntry = {
      requestId: rec.requestId,
      keyId: rec.keyId,
      userId: rec.userId,
      model: rec.model,
      promptTokens: clampU32(rec.promptTokens),
      completionTokens: clampU32(rec.completionTokens),
      queueMs: clampU32(rec.queueMs),
      generationMs: clampU32(rec.generationMs),
      workerId: this.config.WORKER_ID,
      outcome: rec.outcome,
      pool: rec.pool,
      createdAtMs: rec.createdAtMs,
    };
    const attempts = this.config.WORKER_USAGE_ATTEMPTS;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await transport.append(entry);
        return;
      } catch (err) {
        if (attempt === attempts || this.closed) {
          this.log.error({ err: errMessage(err), requestId: rec.requestId, attempts: attempt }, 'usage not recorded: Redis did not take the entry');
          return;
        }
        this.log.warn({ err: errMessage(err), requestId: rec.requestId, attempt }, 'usage entry not appended; retrying');
        await sleep(Math.min(10_000, this.retryBaseMs * 2 ** (attempt - 1)));
      }
    }
  }
}

function clampU32(n: number): number {
  return Math.max(0, Math.min(0xffffffff, Math.round(n)));
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
