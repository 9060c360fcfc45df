import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import IORedis from 'ioredis';
import { inferenceJobSchema, Queues, RedisKeys, cancelMessageSchema, type RelayMessage } from '@switchyard/contracts';

export interface FakeWorkerOptions {
  redisUrl: string;
  prefix: string;
  /** Queues to pull from. */
  queues: Array<{ pool: string; model: string }>;
  /** How long each job "generates" (ms). */
  delayMs?: number;
  concurrency?: number;
}

/**
 * A minimal stand-in for apps/worker in tests: takes InferenceJobs from the given queues and
 * relays its answer on the job's relay channel as the real worker does: a non-stream job's whole
 * answer in its `final` (seq 0); a stream's `started`, one `chunk` (chat and generate), then a `final`. A cancel message for a running job ends it without
 * relaying more. Counts the runs of each request id.
 */
export class FakeWorker {
  readonly runs = new Map<string, number>();
  private readonly workers: Worker[] = [];
  private readonly pub: IORedis;
  private readonly sub: IORedis;
  private readonly cancelled = new Set<string>();

  constructor(private readonly opts: FakeWorkerOptions) {
    this.pub = new IORedis(opts.redisUrl, { maxRetriesPerRequest: null });
    this.sub = new IORedis(opts.redisUrl, { maxRetriesPerRequest: null });
  }

  async start(): Promise<void> {
    await this.sub.subscribe(RedisKeys.cancelChannel(this.opts.prefix));
    this.sub.on('message', (_channel: string, raw: string) => {
      const r = cancelMessageSchema.safeParse(JSON.parse(raw));
      if (r.success) this.cancelled.add(r.data.requestId);
    });
    for (const q of this.opts.queues) {
      const connection = new IORedis(this.opts.redisUrl, { maxRetriesPerRequest: null });
      const worker = new Worker(Queues.inference(q.pool, q.model), (job) => this.run(job.data), {
        connection,
        prefix: Queues.bullPrefix(this.opts.prefix),
        concurrency: this.opts.concurrency ?? 4,
        lockDuration: 30_000,
      });
      this.workers.push(worker);
    }
  }

  private async run(data: unknown): Promise<void> {
    const job = inferenceJobSchema.parse(data);
    this.runs.set(job.requestId, (this.runs.get(job.requestId) ?? 0) + 1);
    const channel = RedisKeys.relayChannel(this.opts.prefix, job.edgeId);
    const runId = randomUUID();
    let seq = 0;
    const publish = (msg: RelayMessage) => this.pub.publish(channel, JSON.stringify(msg));
    // As the real worker: `started` for stream jobs only (batch lines never stream).
    if (job.stream) await publish({ type: 'started', requestId: job.requestId, runId, seq: seq++, workerId: 'fake', queueMs: Date.now() - job.createdAt });
    await new Promise((r) => setTimeout(r, this.opts.delayMs ?? 5));
    if (this.cancelled.has(job.requestId)) return;
    const usage = { promptTokens: job.estimatedPromptTokens, completionTokens: 4, queueMs: 0, loadMs: 0, promptEvalMs: 1, evalMs: 1, totalMs: 2 };
    if (job.work.kind === 'embed') {
      await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: 'fake', finishReason: 'stop', usage, embeddings: job.work.input.map(() => [0.1, 0.2, 0.3]) });
      return;
    }
    const content = `Hello from ${job.model}.`;
    if (!job.stream) {
      await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: 'fake', finishReason: 'stop', usage, content });
      return;
    }
    await publish({ type: 'chunk', requestId: job.requestId, runId, seq: seq++, content });
    await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: 'fake', finishReason: 'stop', usage });
  }

  /** Stops taking jobs (waits for running ones). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all(this.workers.map(async (w) => (await w.client).quit().catch(() => undefined)));
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
