import { Inject, Injectable } from '@nestjs/common';
import type { InferenceJob, RelayMessage } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { EdgeMetrics } from '../metrics/edge-metrics.service';
import { RelayService } from '../relay/relay.service';
import { InferenceProducer } from './inference.producer';
import { JobRun } from './job-run';
import { ServiceTimeTracker } from './service-time.tracker';

/** Starts jobs: opens the request's relay inbox, then enqueues; observes what comes back. */
@Injectable()
export class JobRunner {
  constructor(
    private readonly producer: InferenceProducer,
    private readonly relay: RelayService,
    private readonly serviceTimes: ServiceTimeTracker,
    private readonly metrics: EdgeMetrics,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {}

  async start(job: InferenceJob, elapsedMs = 0): Promise<JobRun> {
    const inbox = this.relay.open(job.requestId);
    try {
      await this.producer.enqueue(job);
    } catch (err) {
      inbox.close();
      throw err;
    }
    const hooks = {
      observe: (j: InferenceJob, msg: RelayMessage) => this.observe(j, msg),
      cancel: async (j: InferenceJob, reason: string) => {
        const outcome = await this.producer.cancel(j, reason);
        this.logger.info({ requestId: j.requestId, model: j.model, reason, outcome }, 'job cancelled');
      },
    };
    return new JobRun(job, inbox, hooks, Math.max(1, this.config.EDGE_REQUEST_TIMEOUT_MS - elapsedMs));
  }

  private observe(job: InferenceJob, msg: RelayMessage): void {
    if (msg.type === 'started') this.metrics.queueWait.observe({ model: job.model }, msg.queueMs / 1000);
    else if (msg.type === 'final') {
      this.serviceTimes.observe(job.model, msg.usage);
      this.metrics.tokens.inc({ model: job.model, kind: 'prompt' }, msg.usage.promptTokens);
      this.metrics.tokens.inc({ model: job.model, kind: 'completion' }, msg.usage.completionTokens);
    }
  }
}
