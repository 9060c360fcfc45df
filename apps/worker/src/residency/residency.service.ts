import { Inject, Injectable } from '@nestjs/common';
import { RunningJobs } from '../jobs/running-jobs.registry';
import { OllamaHealth } from '../ollama/ollama-health.service';
import { LoadEvictMachine } from './load-evict.machine';
import { PsWatcher } from './ps.watcher';
import type { EvictOutcome, LoadOutcome, ResidencySnapshot } from './residency.types';
import { StaticModelsKeeper } from './static-models.keeper';

export type { EvictOutcome, LoadOutcome, ModelState, ResidencySnapshot } from './residency.types';

/**
 * What this worker holds in GPU memory and what it pulls, as placement and the lifecycle see it.
 * The work is done by three parts: the LoadEvictMachine (loads with `keep_alive: -1` and the
 * catalogue's fixed num_ctx, measuring the load time; evicts by draining the model's puller, then
 * unloading with `keep_alive: 0`), the PsWatcher (polls /api/ps, adopts what Ollama already holds at
 * start, notices when Ollama dropped a model on its own, recovers after an outage) and the
 * StaticModelsKeeper (keeps the static WORKER_MODELS loaded).
 */
@Injectable()
export class ResidencyService {
  constructor(
    private readonly machine: LoadEvictMachine,
    private readonly watcher: PsWatcher,
    private readonly keeper: StaticModelsKeeper,
    private readonly running: RunningJobs,
    @Inject(OllamaHealth) private readonly health: Pick<OllamaHealth, 'degraded'>,
  ) {
    this.watcher.onPolled(() => this.keeper.ensure());
  }

  /** Called whenever residency changes (placement sends a status at once). */
  onChange(listener: () => void): void {
    this.machine.onChange(listener);
  }

  async start(): Promise<void> {
    this.keeper.start();
    await this.watcher.start();
  }

  /** Shutdown: no more loads, evictions or polls. Resident models stay loaded for the next start to adopt. */
  stop(): void {
    this.machine.stop();
    this.watcher.stop();
    this.keeper.stop();
  }

  /** Loads a model (Load command or static mode), then starts pulling its queue. */
  load(model: string, numCtx?: number): Promise<LoadOutcome> {
    return this.machine.load(model, numCtx);
  }

  /** Stops pulling the model, lets its jobs in flight finish, then unloads it (keep_alive 0). */
  evict(model: string): Promise<EvictOutcome> {
    return this.machine.evict(model);
  }

  /** What placement reports to the scheduler. */
  snapshot(): ResidencySnapshot {
    const { resident, loadTimes, loadingModel } = this.machine.report((model) => this.running.busySlots(model));
    return {
      resident,
      memoryTotalBytes: this.watcher.memoryTotalBytes,
      memoryUsedBytes: this.watcher.memoryUsedBytes(),
      busySlots: this.running.totalBusy(),
      degraded: this.health.degraded,
      loadTimes,
      loadingModel,
    };
  }

  /** Models whose queues are pulled now. */
  residentModels(): string[] {
    return this.machine.residentModels();
  }

  /** Polls /api/ps now. */
  refresh(): Promise<void> {
    return this.watcher.refresh();
  }
}
