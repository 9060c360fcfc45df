import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { InferenceJob, RelayRunMessage } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import type { Place, PlaceRequest } from '@switchyard/redis';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { EdgeMetrics } from '../metrics/edge-metrics.service';
import { RelayService } from '../relay/relay.service';
import { InferenceProducer } from './inference.producer';
import { JobRun, type JobRunHooks } from './job-run';
import { ServiceTimeTracker } from './service-time.tracker';

/** After the relay reconnects, wait this long for messages published meanwhile before asking the queue. */
const RESYNC_DELAY_MS = 1000;

/**
 * Starts jobs: opens the request's relay inbox, then enqueues; observes what comes back. When the
 * relay subscription was re-established (a Redis reconnect), every open run checks whether its job
 * can still answer, so no request waits for a `final` that was lost.
 */
@Injectable()
export class JobRunner implements OnModuleInit {
  private readonly live = new Set<JobRun>();
  /** Per open request: when its current run's `started` arrived (wall clock; stream runs send one). */
  private readonly startedAt = new Map<string, number>();
  private readonly hooks: JobRunHooks;

  constructor(
    private readonly producer: InferenceProducer,
    private readonly relay: RelayService,
    private readonly serviceTimes: ServiceTimeTracker,
    private readonly metrics: EdgeMetrics,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {
    this.hooks = {
      observe: (j, msg) => this.observe(j, msg),
      cancel: async (j, reason) => {
        const outcome = await this.producer.cancel(j, reason);
        this.logger.info({ requestId: j.requestId, model: j.model, reason, outcome }, 'job cancelled');
      },
      presence: (j) => this.producer.presence(j),
      ended: (run) => {
        this.live.delete(run);
        this.startedAt.delete(run.job.requestId);
      },
    };
  }

  onModuleInit(): void {
    this.relay.onResubscribed(() => {
      const runs = [...this.live];
      if (runs.length === 0) return;
      this.logger.warn({ openRequests: runs.length }, 'relay re-subscribed: checking that every open request can still be answered');
      setTimeout(() => void Promise.all(runs.map((r) => r.resync())), RESYNC_DELAY_MS).unref();
    });
  }

  async start(job: InferenceJob, elapsedMs = 0, bullPriority?: number): Promise<JobRun> {
    const inbox = this.relay.open(job.requestId);
    try {
      await this.producer.enqueue(job, bullPriority);
    } catch (err) {
      inbox.close();
      throw err;
    }
    const run = new JobRun(job, inbox, this.hooks, Math.max(1, this.config.EDGE_REQUEST_TIMEOUT_MS - elapsedMs));
    this.live.add(run);
    return run;
  }

  /**
   * Opens the request's relay inbox, then claims the job's place and adds it in one step
   * (`InferenceProducer.claimAndEnqueue`): a run when admitted, none when the place was refused.
   */
  async claimAndStart(job: InferenceJob, elapsedMs: number, req: Omit<PlaceRequest, 'reserved'>): Promise<{ run?: JobRun; place: Place }> {
    const inbox = this.relay.open(job.requestId);
    let place: Place;
    try {
      place = await this.producer.claimAndEnqueue(job, req);
    } catch (err) {
      inbox.close();
      throw err;
    }
    if (place.outcome !== 'admitted') {
      inbox.close();
      return { place };
    }
    const run = new JobRun(job, inbox, this.hooks, Math.max(1, this.config.EDGE_REQUEST_TIMEOUT_MS - elapsedMs));
    this.live.add(run);
    return { run, place };
  }

  private observe(job: InferenceJob, msg: RelayRunMessage): void {
    if (msg.type === 'started') {
      this.startedAt.set(job.requestId, Date.now());
      this.metrics.queueWait.observe({ model: job.model }, msg.queueMs / 1000);
    } else if (msg.type === 'final') {
      const started = this.startedAt.get(job.requestId);
      // A non-stream run sends no `started`: its final carries the queue wait and the run's service time.
      if (started === undefined) this.metrics.queueWait.observe({ model: job.model }, msg.usage.queueMs / 1000);
      const serviceMs = msg.serviceMs ?? (started !== undefined ? Date.now() - started : undefined);
      if (serviceMs !== undefined) this.serviceTimes.observe(job.model, serviceMs);
      this.metrics.tokens.inc({ model: job.model, kind: 'prompt' }, msg.usage.promptTokens);
      this.metrics.tokens.inc({ model: job.model, kind: 'completion' }, msg.usage.completionTokens);
    }
  }
}
