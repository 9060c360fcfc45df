import { Inject, Injectable } from '@nestjs/common';
import { credentials, Metadata } from '@grpc/grpc-js';
import { authV1 } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

export const USAGE_TRANSPORT = Symbol('USAGE_TRANSPORT');

/** The auth call the worker makes; null when AUTH_GRPC_URL=none. */
export interface UsageTransport {
  recordUsage(request: authV1.RecordUsageRequest): Promise<authV1.RecordUsageResponse>;
  close(): void;
}

/** auth.v1.RecordUsage over grpc-js, with a deadline and the request id in the metadata. */
export class GrpcUsageTransport implements UsageTransport {
  private readonly client: authV1.AuthServiceClient;

  constructor(address: string) {
    this.client = new authV1.AuthServiceClient(address, credentials.createInsecure());
  }

  recordUsage(request: authV1.RecordUsageRequest): Promise<authV1.RecordUsageResponse> {
    const metadata = new Metadata();
    metadata.set('x-request-id', request.requestId);
    return new Promise((resolve, reject) => {
      this.client.recordUsage(request, metadata, { deadline: Date.now() + 5_000 }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  close(): void {
    this.client.close();
  }
}

export interface UsageRecord {
  requestId: string;
  keyId: string;
  userId: string;
  model: string;
  pool: string;
  promptTokens: number;
  completionTokens: number;
  queueMs: number;
  generationMs: number;
  /** "ok" | "length" | "cancelled" | "error" */
  outcome: string;
  createdAtMs: number;
}

/**
 * Records usage with auth, keyed by request id (auth ignores a second row for the same id, so a
 * job run twice is billed once). Recording runs in the background and never fails a job: when auth
 * is unreachable it retries with backoff a few times, then logs the lost row.
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
    this.transport?.close();
  }

  private async send(transport: UsageTransport, rec: UsageRecord): Promise<void> {
    const request: authV1.RecordUsageRequest = {
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
        await transport.recordUsage(request);
        return;
      } catch (err) {
        if (attempt === attempts || this.closed) {
          this.log.error({ err: errMessage(err), requestId: rec.requestId, attempts: attempt }, 'usage not recorded: auth unreachable');
          return;
        }
        this.log.warn({ err: errMessage(err), requestId: rec.requestId, attempt }, 'RecordUsage failed; retrying');
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
