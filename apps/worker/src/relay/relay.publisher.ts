import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { RedisKeys, type RelayRunMessage, type UsageTimings } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import type { z } from 'zod';
import type { ollamaToolCallSchema } from '@switchyard/contracts';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { REDIS } from '@switchyard/redis';

export type ToolCall = z.infer<typeof ollamaToolCallSchema>;

/** The one Redis command the relay needs (ioredis' `publish`), so tests can record publishes. */
export interface RelaySink {
  publish(channel: string, message: string): Promise<unknown>;
}

export interface RelayTarget {
  requestId: string;
  edgeId: string;
}

export interface RelayStreamOptions {
  /** Minimum gap between two chunk publishes; `Infinity` holds all text until the final message. */
  coalesceMs: number;
}

/**
 * Publishes the relay messages of running jobs on their edge's channel
 * (`RedisKeys.relayChannel(prefix, edgeId)`), following libs/contracts/README.md.
 */
@Injectable()
export class RelayPublisher {
  private readonly log: Logger;

  constructor(
    @Inject(REDIS) private readonly sink: RelaySink,
    @Inject(WORKER_CONFIG) private readonly config: Pick<WorkerConfig, 'SWITCHYARD_PREFIX' | 'WORKER_ID' | 'WORKER_RELAY_COALESCE_MS'>,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: RelayPublisher.name });
  }

  /** A stream of relay messages for one attempt of one job. */
  open(target: RelayTarget, opts?: Partial<RelayStreamOptions>): RelayStream {
    const channel = RedisKeys.relayChannel(this.config.SWITCHYARD_PREFIX, target.edgeId);
    return new RelayStream(this.sink, channel, target.requestId, this.config.WORKER_ID, opts?.coalesceMs ?? this.config.WORKER_RELAY_COALESCE_MS, this.log);
  }
}

/**
 * One run's messages in `seq` order: `started` (if sent), `chunk`s, then exactly one `final` or `error`, all
 * carrying the run's own random `runId` (a rerun of the job elsewhere is another run).
 * Tokens are coalesced: the first is published at once (time to first token matters), later ones
 * at most once per `coalesceMs`, so a fast stream costs one Redis write per interval, not per token.
 * Text still held when the run ends goes in the `final` itself: a non-stream answer is one message.
 * Publishes are issued in order on one connection, which keeps them in order on the channel.
 */
export class RelayStream {
  private seq = 0;
  private pending = '';
  private pendingTools: ToolCall[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastFlushAt = -Infinity;
  private closed = false;
  private chunksPublished = 0;
  private readonly inflight = new Set<Promise<unknown>>();
  /** This run of the job. */
  readonly runId = randomBytes(9).toString('base64url');

  constructor(
    private readonly sink: RelaySink,
    private readonly channel: string,
    private readonly requestId: string,
    private readonly workerId: string,
    private readonly coalesceMs: number,
    private readonly log: Logger,
  ) {}

  /** True once any chunk was published: the edge may already have streamed text to its client. */
  get relayedContent(): boolean {
    return this.chunksPublished > 0;
  }

  /** True when text is buffered or published (what an error must be relayed "after"). */
  get hasContent(): boolean {
    return this.chunksPublished > 0 || this.pending.length > 0 || this.pendingTools.length > 0;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  started(queueMs: number): void {
    this.send({ type: 'started', requestId: this.requestId, runId: this.runId, seq: this.seq++, workerId: this.workerId, queueMs: Math.max(0, queueMs) });
  }

  token(content: string, toolCalls?: ToolCall[]): void {
    if (this.closed) return;
    if (content.length === 0 && !toolCalls?.length) return;
    this.pending += content;
    if (toolCalls?.length) this.pendingTools.push(...toolCalls);
    if (this.timer || !Number.isFinite(this.coalesceMs)) return;
    const wait = this.lastFlushAt + this.coalesceMs - performance.now();
    if (wait <= 0) this.flush();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, wait);
    }
  }

  final(body: { finishReason: 'stop' | 'length' | 'tool_calls'; usage: UsageTimings; serviceMs?: number; embeddings?: number[][] }): void {
    if (this.closed) return;
    const content = this.pending;
    const toolCalls = this.pendingTools.length > 0 ? this.pendingTools : undefined;
    this.dropPending();
    this.closed = true;
    this.send({
      type: 'final',
      requestId: this.requestId,
      runId: this.runId,
      seq: this.seq++,
      workerId: this.workerId,
      ...body,
      ...(content ? { content } : {}),
      ...(toolCalls ? { toolCalls } : {}),
    });
  }

  /**
   * Ends the stream with an error. Buffered text is published first when `flushPending` (an
   * in-band error after tokens), else dropped (nothing reached the client: it gets `status`).
   */
  error(body: { status: number; message: string; code: string | null; flushPending: boolean }): void {
    if (this.closed) return;
    if (body.flushPending) this.flush();
    else this.dropPending();
    this.closed = true;
    this.send({
      type: 'error',
      requestId: this.requestId,
      runId: this.runId,
      seq: this.seq++,
      status: body.status,
      message: body.message,
      code: body.code,
      afterFirstToken: this.chunksPublished > 0,
    });
  }

  /** Stops without another message (a cancelled job: nobody is listening). */
  discard(): void {
    this.dropPending();
    this.closed = true;
  }

  /** Resolves when every publish issued so far has been answered by Redis. */
  async drained(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0 && this.pendingTools.length === 0) return;
    const toolCalls = this.pendingTools.length > 0 ? this.pendingTools : undefined;
    this.send({ type: 'chunk', requestId: this.requestId, runId: this.runId, seq: this.seq++, content: this.pending, ...(toolCalls ? { toolCalls } : {}) });
    this.chunksPublished++;
    this.pending = '';
    this.pendingTools = [];
    this.lastFlushAt = performance.now();
  }

  private dropPending(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = '';
    this.pendingTools = [];
  }

  private send(message: RelayRunMessage): void {
    const p = this.sink.publish(this.channel, JSON.stringify(message)).catch((err: unknown) => {
      this.log.error({ err, type: message.type }, 'relay publish failed');
    });
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }
}
