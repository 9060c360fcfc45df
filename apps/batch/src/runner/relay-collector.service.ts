import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { BATCH_RELAY_ID, finalText, relayMessageSchema, RedisKeys, type RelayMessage } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { fromRelayError } from '@switchyard/openai';
import { RedisSubscriber } from '@switchyard/redis';
import { LinesRepository } from '../batches/lines.repository';
import { BATCH_CONFIG, type BatchConfig } from '../config/batch.config';
import { BatchMetrics } from '../metrics/batch-metrics';
import { renderBody } from './result-renderer';

type RelayChunk = Extract<RelayMessage, { type: 'chunk' }>;

interface Run {
  runId: string;
  nextSeq: number;
  chunks: RelayChunk[];
}

/** `<batchId>_l<line>` (contracts' `batchLineRequestId`) back into its parts. */
export function parseLineRequestId(requestId: string): { batchId: string; line: number } | undefined {
  const m = /^(.+)_l(\d+)$/.exec(requestId);
  return m ? { batchId: m[1], line: Number(m[2]) } : undefined;
}

/**
 * Collects batch lines' results from the batch relay channel, like an edge: follows one run of a
 * job at a time (from its seq 0: `started`, or the chunk or final of a non-stream run; then `chunk`s in
 * order and the `final`), renders the response body and
 * records it — only on a line still `queued`, so with several replicas (all of which receive every
 * message) and across re-runs each line is answered once. A run seen only in part (subscribed
 * mid-run, a gap) is not recorded: its job is then gone without a result and the runner enqueues
 * it again.
 */
@Injectable()
export class RelayCollector implements OnModuleInit {
  private readonly runs = new Map<string, Run>();
  private readonly logger: Logger;
  private readonly channel: string;
  /** Told about every line answered (the runner refills that batch's window). */
  onAnswered: (batchId: string) => void = () => undefined;

  constructor(
    private readonly subscriber: RedisSubscriber,
    private readonly lines: LinesRepository,
    private readonly metrics: BatchMetrics,
    @Inject(BATCH_CONFIG) config: BatchConfig,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ context: 'RelayCollector' });
    this.channel = RedisKeys.relayChannel(config.SWITCHYARD_PREFIX, BATCH_RELAY_ID);
  }

  async onModuleInit(): Promise<void> {
    await this.subscriber.subscribe(this.channel, (raw) => this.onMessage(raw));
    // Messages sent while reconnecting are lost: the runs in progress cannot be trusted.
    this.subscriber.onReconnect(() => this.runs.clear());
  }

  private onMessage(raw: string): void {
    let msg: RelayMessage;
    try {
      msg = relayMessageSchema.parse(JSON.parse(raw));
    } catch {
      this.logger.warn({ raw: raw.slice(0, 200) }, 'unparseable relay message');
      return;
    }
    const id = msg.requestId;
    switch (msg.type) {
      case 'lost':
        this.runs.delete(id);
        return;
      case 'started':
        if (msg.seq === 0) this.runs.set(id, { runId: msg.runId, nextSeq: 1, chunks: [] });
        else this.runs.delete(id);
        return;
      case 'chunk': {
        const run = this.follow(id, msg.runId, msg.seq);
        if (run) run.chunks.push(msg);
        return;
      }
      case 'final': {
        const run = this.follow(id, msg.runId, msg.seq);
        this.runs.delete(id);
        if (!run) return;
        const tail = finalText(msg);
        const chunks = tail ? [...run.chunks, tail] : run.chunks;
        void this.record(id, async (model, render) => ({ state: 'done', status: 200, body: renderBody(model, render, chunks, msg) }));
        return;
      }
      case 'error': {
        this.runs.delete(id);
        const err = fromRelayError(msg);
        void this.record(id, async () => ({ state: 'failed', status: err.status, body: err.body() }));
        return;
      }
      default: {
        const never: never = msg;
        throw new Error(`unhandled relay message ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * The run this message continues, when it is the next one of the run being followed; a message
   * with `seq` 0 begins a run (a non-stream run, as every line is, sends no `started`).
   */
  private follow(requestId: string, runId: string, seq: number): Run | undefined {
    if (seq === 0) this.runs.set(requestId, { runId, nextSeq: 0, chunks: [] });
    const run = this.runs.get(requestId);
    if (!run || run.runId !== runId || run.nextSeq !== seq) {
      this.runs.delete(requestId);
      return undefined;
    }
    run.nextSeq++;
    return run;
  }

  private async record(
    requestId: string,
    result: (model: string, render: NonNullable<Awaited<ReturnType<LinesRepository['get']>>>['render']) => Promise<{ state: 'done' | 'failed'; status: number; body: object }>,
  ): Promise<void> {
    const ref = parseLineRequestId(requestId);
    if (!ref) return;
    try {
      const line = await this.lines.get(ref.batchId, ref.line);
      if (!line || line.state !== 'queued') return;
      const r = await result(line.model, line.render);
      if (await this.lines.finish(ref.batchId, ref.line, r.state, r.status, r.body)) {
        if (r.state === 'done') this.metrics.lineDone(line.model);
        else this.metrics.lineFailed(line.model);
        this.onAnswered(ref.batchId);
      }
    } catch (err) {
      this.logger.error({ err, requestId }, 'recording a line result failed');
    }
  }
}
