import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { CancelSubscriber } from '../jobs/cancel.subscriber';
import { JobPullers } from '../jobs/job-pullers.service';
import { RunningJobs } from '../jobs/running-jobs.registry';
import { PlacementClient } from '../placement/placement.client';
import { ResidencyService } from '../residency/residency.service';
import { UsageRecorder } from '../usage/usage.client';

/**
 * Starts the worker's parts in order and stops them in the reverse: on SIGTERM it stops pulling,
 * lets the jobs in flight finish (cancels still reach them) for up to WORKER_DRAIN_TIMEOUT_MS, then
 * aborts those still running (each relays an in-band error or goes back to its queue), sends the
 * last usage rows, unregisters from the scheduler, and only then lets the connections close.
 */
@Injectable()
export class WorkerLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log: Logger;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly cancels: CancelSubscriber,
    private readonly residency: ResidencyService,
    private readonly placement: PlacementClient,
    private readonly pullers: JobPullers,
    private readonly running: RunningJobs,
    private readonly usage: UsageRecorder,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: WorkerLifecycle.name });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.cancels.start();
    await this.residency.start();
    this.placement.start();
    this.log.info(
      { workerId: this.config.WORKER_ID, pool: this.config.WORKER_POOL, slots: this.config.WORKER_SLOTS, ollama: this.config.OLLAMA_URL, resident: this.residency.residentModels() },
      'worker started',
    );
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.log.info({ signal, inFlight: this.running.totalBusy() }, 'shutting down: stop pulling, finish jobs in flight');
    this.placement.stopAcceptingCommands();
    this.residency.stop();
    const drained = await this.pullers.closeAll(this.config.WORKER_DRAIN_TIMEOUT_MS, () => this.abortInFlight());
    this.log.info(drained ? 'jobs in flight finished' : 'jobs in flight aborted');
    await this.usage.flush(5_000);
    await this.placement.stop(signal ? `shutdown (${signal})` : 'shutdown');
    await this.cancels.stop();
    this.usage.close();
  }

  /** Past the drain timeout: aborts every job still running; the processor ends each as for a lost worker. */
  private abortInFlight(): void {
    const aborted = this.running.abortAll(`worker shutting down: drain timeout (${this.config.WORKER_DRAIN_TIMEOUT_MS} ms)`);
    for (const { requestId, model } of aborted) this.log.warn({ requestId, model }, 'drain timeout: aborting a job still running');
    this.log.warn({ aborted: aborted.length, timeoutMs: this.config.WORKER_DRAIN_TIMEOUT_MS }, 'drain timeout: aborted the jobs still running');
  }
}
