import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  cancelMessageSchema,
  inferenceJobSchema,
  Queues,
  RedisKeys,
  type CancelMessage,
  type InferenceJob,
  type RelayMessage,
} from '@switchyard/contracts';

export interface QueueRef {
  pool: string;
  model: string;
}

/** What a test asks the fake worker to do with a job, by a tag in the last prompt text. */
type Script =
  | { kind: 'reply'; chunks: string[]; finish: 'stop' | 'length' }
  | { kind: 'tool' }
  | { kind: 'slow' }
  | { kind: 'fail-before' }
  | { kind: 'fail-after' };

const REPLY = ['Hello', ' from', ' the fake worker.'];

/**
 * An in-test worker that speaks the data-plane protocol (libs/contracts/README.md) for real: it
 * pulls `(pool, model)` BullMQ queues, parses `job.data` with `inferenceJobSchema`, publishes
 * `started` → `chunk`s → `final` | `error` on the owning edge's relay channel, and aborts a
 * running job when a cancel message names it. Tags in the prompt choose the behaviour:
 * `[tool]`, `[slow]` (a chunk every 50 ms until cancelled), `[fail-before]`, `[fail-after]`,
 * `[length]`, `[delay:MS]` (wait before starting), `[echo]` (answer the options as JSON), `[whole:MS]` (the
 * answer at once after generating for MS, as Ollama gives a non-stream one; `evalMs` = MS).
 */
export class FakeWorker {
  readonly received: InferenceJob[] = [];
  readonly cancels: CancelMessage[] = [];
  /** Request ids whose run was aborted by a cancel message, with when. */
  readonly aborted = new Map<string, number>();
  private readonly running = new Map<string, AbortController>();
  private readonly workers: Worker[] = [];
  private readonly pub: Redis;
  private readonly sub: Redis;
  readonly id = `fake-worker-${process.pid}`;

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
    private readonly queues: QueueRef[],
    private readonly concurrency = 8,
  ) {
    this.pub = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.sub = new Redis(redisUrl, { maxRetriesPerRequest: null });
  }

  async start(): Promise<void> {
    this.sub.on('message', (_channel: string, message: string) => {
      const parsed = cancelMessageSchema.safeParse(JSON.parse(message));
      if (!parsed.success) return;
      this.cancels.push(parsed.data);
      const ctl = this.running.get(parsed.data.requestId);
      if (ctl) {
        this.aborted.set(parsed.data.requestId, Date.now());
        ctl.abort();
      }
    });
    await this.sub.subscribe(RedisKeys.cancelChannel(this.prefix));
    for (const q of this.queues) {
      const worker = new Worker(Queues.inference(q.pool, q.model), (job: Job) => this.process(job), {
        connection: redisOptions(this.redisUrl),
        prefix: Queues.bullPrefix(this.prefix),
        concurrency: this.concurrency,
        lockDuration: 30_000,
        drainDelay: 1,
      });
      await worker.waitUntilReady();
      this.workers.push(worker);
    }
  }

  private async process(bullJob: Job): Promise<void> {
    const job = inferenceJobSchema.parse(bullJob.data);
    this.received.push(job);
    const ctl = new AbortController();
    this.running.set(job.requestId, ctl);
    let seq = 0;
    const runId = randomBytes(6).toString('hex');
    const publish = (m: RelayMessage) => this.pub.publish(RedisKeys.relayChannel(this.prefix, job.edgeId), JSON.stringify(m));
    const text = promptOf(job);
    const delay = /\[delay:(\d+)\]/.exec(text);
    const started = Date.now();
    try {
      if (delay) await sleep(Number(delay[1]), undefined, { signal: ctl.signal });
      // As the real worker: `started` for stream jobs only.
      if (job.stream) await publish({ type: 'started', requestId: job.requestId, runId, seq: seq++, workerId: this.id, queueMs: Math.max(0, started - job.createdAt) });
      const script = scriptOf(text);
      const usage = (completionTokens: number) => ({
        promptTokens: job.estimatedPromptTokens,
        completionTokens,
        queueMs: Math.max(0, started - job.createdAt),
        loadMs: 0,
        promptEvalMs: 1,
        evalMs: 2,
        totalMs: Date.now() - started + 3,
      });
      if (job.work.kind === 'embed') {
        const embeddings = job.work.input.map((_, i) => [i + 0.5, -0.25, 0.125]);
        await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: this.id, finishReason: 'stop', usage: usage(0), embeddings });
        return;
      }
      if (/\[echo\]/.test(text)) {
        const echo = JSON.stringify({ options: job.work.options, format: job.work.format ?? null, numCtx: job.numCtx });
        await publish({ type: 'chunk', requestId: job.requestId, runId, seq: seq++, content: echo });
        await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: this.id, finishReason: 'stop', usage: usage(1) });
        return;
      }
      const whole = /\[whole:(\d+)\]/.exec(text);
      if (whole) {
        await sleep(Number(whole[1]), undefined, { signal: ctl.signal });
        // As the real worker relays an answer it asked Ollama for whole: the text in the final.
        await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: this.id, finishReason: 'stop', usage: { ...usage(5), evalMs: Number(whole[1]) }, content: 'Hello, all at once.' });
        return;
      }
      switch (script.kind) {
        case 'reply': {
          for (const c of script.chunks) await publish({ type: 'chunk', requestId: job.requestId, runId, seq: seq++, content: c });
          await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: this.id, finishReason: script.finish, usage: usage(script.chunks.length) });
          return;
        }
        case 'tool': {
          await publish({
            type: 'chunk',
            requestId: job.requestId,
            runId,
            seq: seq++,
            content: '',
            toolCalls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
          });
          await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: this.id, finishReason: 'tool_calls', usage: usage(7) });
          return;
        }
        case 'slow': {
          for (let i = 0; i < 400 && !ctl.signal.aborted; i++) {
            await publish({ type: 'chunk', requestId: job.requestId, runId, seq: seq++, content: `t${i} ` });
            await sleep(50, undefined, { signal: ctl.signal }).catch(() => undefined);
          }
          if (ctl.signal.aborted) return; // cancelled: complete without relaying more
          await publish({ type: 'final', requestId: job.requestId, runId, seq: seq++, workerId: this.id, finishReason: 'length', usage: usage(400) });
          return;
        }
        case 'fail-before':
          await publish({ type: 'error', requestId: job.requestId, runId, seq: seq++, status: 502, message: 'The model runner crashed.', code: 'worker_error', afterFirstToken: false });
          return;
        case 'fail-after':
          await publish({ type: 'chunk', requestId: job.requestId, runId, seq: seq++, content: 'Partial' });
          await publish({ type: 'error', requestId: job.requestId, runId, seq: seq++, status: 500, message: 'The model runner crashed mid-answer.', code: 'worker_error', afterFirstToken: true });
          return;
      }
    } catch (err) {
      if (ctl.signal.aborted) return;
      throw err;
    } finally {
      this.running.delete(job.requestId);
    }
  }

  async close(): Promise<void> {
    for (const ctl of this.running.values()) ctl.abort();
    await Promise.all(this.workers.map((w) => w.close(true).catch(() => undefined)));
    this.pub.disconnect();
    this.sub.disconnect();
  }
}

/** Connection options (not a client), so BullMQ owns its connections and closes them. */
function redisOptions(url: string): { host: string; port: number; db: number; maxRetriesPerRequest: null } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0), maxRetriesPerRequest: null };
}

function promptOf(job: InferenceJob): string {
  const w = job.work;
  if (w.kind === 'chat') return w.messages.map((m) => m.content).join('\n');
  if (w.kind === 'generate') return w.prompt;
  return w.input.join('\n');
}

function scriptOf(text: string): Script {
  if (text.includes('[tool]')) return { kind: 'tool' };
  if (text.includes('[slow]')) return { kind: 'slow' };
  if (text.includes('[fail-before]')) return { kind: 'fail-before' };
  if (text.includes('[fail-after]')) return { kind: 'fail-after' };
  return { kind: 'reply', chunks: REPLY, finish: text.includes('[length]') ? 'length' : 'stop' };
}
