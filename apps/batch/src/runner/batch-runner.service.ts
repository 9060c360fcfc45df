import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { BatchesRepository, type BatchEnding, type BatchRow, type BatchStatus } from '../batches/batches.repository';
import { BatchesService } from '../batches/batches.service';
import { InputValidator } from '../batches/input-validator';
import { LinesRepository } from '../batches/lines.repository';
import { BATCH_CONFIG, type BatchConfig } from '../config/batch.config';
import { BatchMetrics } from '../metrics/batch-metrics';
import { BulkDemandPublisher } from './bulk-demand.publisher';
import { LineQueue } from './line-queue';
import { OutputWriter } from './output-writer';
import { RelayCollector } from './relay-collector.service';

/** How long a replica holds a batch it validates or finalizes before another may take over. */
const VALIDATE_CLAIM_MS = 5 * 60_000;
const FINALIZE_CLAIM_MS = 60_000;
/** A queued line is checked for a lost job only after this long (its job is added right after the row changes). */
const RECOVER_GRACE_MS = 3000;
/** Runs of one line beyond this (jobs lost again and again) fail it. */
const MAX_ENQUEUES = 5;

/**
 * Drives every batch through OpenAI's lifecycle: validates new ones, keeps a window of each batch's
 * lines in the queues model by model, re-enqueues lines whose job was lost, stops cancelled and
 * expired batches, and finalizes (output and error files). Every step is a conditional update on
 * the database, so several replicas can run side by side and any of them can pick up after another.
 */
@Injectable()
export class BatchRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger: Logger;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private soon?: NodeJS.Timeout;
  private lastRecover = 0;
  private stopped = false;
  /** Running jobs this process already asked to cancel. */
  private readonly cancelSent = new Set<string>();

  constructor(
    private readonly batches: BatchesRepository,
    private readonly lines: LinesRepository,
    private readonly validator: InputValidator,
    private readonly queue: LineQueue,
    private readonly output: OutputWriter,
    private readonly metrics: BatchMetrics,
    private readonly bulkDemand: BulkDemandPublisher,
    service: BatchesService,
    collector: RelayCollector,
    @Inject(BATCH_CONFIG) private readonly config: BatchConfig,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ context: 'BatchRunner' });
    service.onCreated = () => this.kick();
    collector.onAnswered = () => this.kick();
  }

  onApplicationBootstrap(): void {
    this.lastRecover = 0; // recover at once on start
    this.timer = setInterval(() => this.kick(0), this.config.BATCH_TICK_MS);
    this.kick(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    await this.running;
  }

  /** Runs a pass soon (coalescing many calls); a pass already running is followed by another. */
  kick(delayMs = 10): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.running = this.pass().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
    }, delayMs);
  }

  private async pass(): Promise<void> {
    const recover = Date.now() - this.lastRecover >= this.config.BATCH_RECOVER_INTERVAL_MS;
    if (recover) this.lastRecover = Date.now();
    let active: BatchRow[];
    try {
      active = await this.batches.active();
    } catch (err) {
      this.logger.warn({ err }, 'listing batches failed');
      return;
    }
    for (const b of active) {
      if (this.stopped) return;
      try {
        await this.step(b, recover);
      } catch (err) {
        this.logger.error({ err, batchId: b.id }, 'batch step failed');
      }
    }
    // After the steps, so lines just taken into the window no longer count as pending.
    try {
      await this.bulkDemand.publish();
    } catch (err) {
      this.logger.warn({ err }, 'publishing bulk demand failed');
    }
  }

  private async step(b: BatchRow, recover: boolean): Promise<void> {
    if (b.ending === null && new Date(b.expires_at).getTime() <= Date.now() && (b.status === 'validating' || b.status === 'in_progress')) {
      await this.batches.setEnding(b.id, 'expired');
      b = (await this.batches.byId(b.id)) ?? b;
    }
    switch (b.status) {
      case 'validating':
        if (b.ending) return this.drain(b, b.ending);
        return this.validate(b);
      case 'in_progress':
        if (b.ending) return this.drain(b, b.ending);
        if (recover) await this.recover(b);
        return this.fill(b);
      case 'cancelling':
        return this.drain(b, b.ending ?? 'cancelled');
      case 'finalizing':
        return this.finish(b, 'finalizing', 'completed');
      default:
        return;
    }
  }

  private async validate(b: BatchRow): Promise<void> {
    if (!(await this.batches.claim(b.id, 'validating', VALIDATE_CLAIM_MS))) return;
    const started = Date.now();
    const result = await this.validator.validateAndStore(b);
    if (result.ok) {
      await this.batches.transition(b.id, ['validating'], 'in_progress');
      this.logger.info({ batchId: b.id, lines: result.lines, ms: Date.now() - started }, 'batch validated');
      this.kick();
    } else {
      await this.batches.transition(b.id, ['validating'], 'failed', { errors: { object: 'list', data: result.errors } });
      this.logger.info({ batchId: b.id, errors: result.errors.length }, 'batch failed validation');
    }
  }

  /** Keeps up to BATCH_WINDOW_PER_MODEL lines of the batch's first model with lines left in its queue; finalizes when none is left. */
  private async fill(b: BatchRow): Promise<void> {
    const models = await this.lines.modelsInFlight(b.id);
    if (models.length === 0) {
      if (await this.batches.transition(b.id, ['in_progress'], 'finalizing')) {
        const fresh = await this.batches.byId(b.id);
        if (fresh) await this.finish(fresh, 'finalizing', 'completed');
      }
      return;
    }
    const current = models.find((m) => m.pending > 0);
    if (!current) return;
    const room = this.config.BATCH_WINDOW_PER_MODEL - current.queued;
    if (room <= 0) return;
    const taken = await this.lines.takePending(b.id, current.model, room);
    await Promise.all(
      taken.map((l) =>
        this.queue.enqueue(l.job).catch((err: unknown) => this.logger.warn({ err, requestId: l.job.requestId }, 'enqueue failed; the line is retried')),
      ),
    );
  }

  /** Lines queued whose job is gone without a result (missed relay, lost job): enqueued again, same request id. */
  private async recover(b: BatchRow): Promise<void> {
    for (const l of await this.lines.queued(b.id, RECOVER_GRACE_MS)) {
      if ((await this.queue.place(l.job)) !== 'gone') continue;
      const fresh = await this.lines.get(b.id, l.line);
      if (fresh?.state !== 'queued') continue;
      if (l.enqueues >= MAX_ENQUEUES) {
        const body = { error: { message: 'The request was lost too many times and was not answered.', type: 'api_error', param: null, code: 'worker_lost' } };
        if (await this.lines.finish(b.id, l.line, 'failed', 500, body)) this.metrics.lineFailed(l.model);
        continue;
      }
      await this.lines.markReenqueued(b.id, l.line);
      await this.queue.reenqueue(l.job);
      this.logger.info({ batchId: b.id, line: l.line, requestId: l.job.requestId }, 'line re-enqueued (job gone without a result)');
    }
  }

  /** Cancel or expiry: pending lines end, queued jobs are removed, running ones cancelled; then the batch ends with partial results. */
  private async drain(b: BatchRow, ending: BatchEnding): Promise<void> {
    const lineState = ending === 'expired' ? 'expired' : 'cancelled';
    const stopped = await this.lines.stopPending(b.id, lineState);
    if (ending === 'expired') for (const [model, n] of stopped) this.metrics.lineFailed(model, n);
    let inFlight = 0;
    for (const l of await this.lines.queued(b.id)) {
      const place = await this.queue.place(l.job);
      if (place === 'queued' && (await this.queue.remove(l.job))) {
        if ((await this.lines.stop(b.id, l.line, lineState)) && ending === 'expired') this.metrics.lineFailed(l.model);
      } else if (place === 'gone') {
        if ((await this.lines.stop(b.id, l.line, lineState)) && ending === 'expired') this.metrics.lineFailed(l.model);
      } else {
        inFlight++;
        if (!this.cancelSent.has(l.job.requestId)) {
          this.cancelSent.add(l.job.requestId);
          await this.queue.cancelRunning(l.job.requestId, ending === 'expired' ? 'batch_expired' : 'batch_cancelled');
        }
      }
    }
    if (inFlight === 0) await this.finish(b, b.status, ending);
  }

  private async finish(b: BatchRow, from: BatchStatus, to: 'completed' | BatchEnding): Promise<void> {
    if (!(await this.batches.claim(b.id, from, FINALIZE_CLAIM_MS))) return;
    const files = await this.output.write(b);
    if (await this.batches.transition(b.id, [from], to, files)) {
      this.logger.info({ batchId: b.id, status: to, ...files }, 'batch ended');
    }
  }
}
