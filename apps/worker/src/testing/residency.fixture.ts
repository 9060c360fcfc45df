import { Registry } from 'prom-client';
import { resolveCatalogue } from '@switchyard/contracts';
import { ModelCatalogue } from '../config/model-catalogue';
import type { ModelRun } from '../jobs/inference.processor';
import { RunningJobs } from '../jobs/running-jobs.registry';
import { WorkerMetrics } from '../metrics/worker.metrics';
import type { HealthListener, OllamaFailure } from '../ollama/ollama-health.service';
import { LoadEvictMachine } from '../residency/load-evict.machine';
import { OllamaModels } from '../residency/ollama-models.adapter';
import { PsWatcher } from '../residency/ps.watcher';
import { ResidencyService } from '../residency/residency.service';
import { StaticModelsKeeper } from '../residency/static-models.keeper';
import { FakeOllama } from './fake-ollama';
import { testLogger } from './test-logger';
import { sleep } from './wait';

export const residencyCatalogue = new ModelCatalogue(
  resolveCatalogue({
    defaults: { context_window: 8192, pool: 'shared' },
    models: [
      { name: 'llama3.1:8b', size_gb: 4.9, pinned: 0, kind: 'chat', owned_by: 's' },
      { name: 'mistral-large:123b', size_gb: 73, context_window: 4096, pinned: 0, kind: 'chat', owned_by: 's' },
      { name: 'nomic-embed-text', size_gb: 0.27, context_window: 2048, pinned: 0, kind: 'embedding', owned_by: 's' },
    ],
  }),
);

/** JobPullers as residency uses it: records starts, stops, pauses and resumes. */
export class FakePullers {
  readonly events: string[] = [];
  readonly pulling = new Map<string, ModelRun>();
  /** How long `stop` takes (jobs in flight draining). */
  drainMs = 0;
  async start(run: ModelRun): Promise<void> {
    this.events.push(`start ${run.model} ${run.numCtx}`);
    this.pulling.set(run.model, run);
  }
  async stop(model: string): Promise<void> {
    this.events.push(`stop ${model}`);
    this.pulling.delete(model);
    await sleep(this.drainMs);
    this.events.push(`stopped ${model}`);
  }
  isPulling(model: string): boolean {
    return this.pulling.has(model);
  }
  pauseAll(): void {
    this.events.push('pause');
  }
  resumeAll(): void {
    this.events.push('resume');
  }
}

/** OllamaHealth as residency uses it; `goDown`/`comeBack` play an outage to its listeners. */
export class FakeResidencyHealth {
  degraded = false;
  isDown = false;
  readonly failures: OllamaFailure[] = [];
  private readonly listeners: HealthListener[] = [];
  reportFailure(kind: OllamaFailure): void {
    this.failures.push(kind);
  }
  reportSuccess(): void {}
  onChange(listener: HealthListener): void {
    this.listeners.push(listener);
  }
  goDown(): void {
    this.isDown = true;
    for (const l of this.listeners) l(false);
  }
  comeBack(): void {
    this.isDown = false;
    for (const l of this.listeners) l(true);
  }
}

/** The residency parts wired as the ResidencyModule wires them, over a FakeOllama and fake pullers. */
export function residencyWithFakes(env: { WORKER_MODELS?: string[]; WORKER_LOAD_TIMEOUT_MS?: number } = {}) {
  const ollama = new FakeOllama();
  const pullers = new FakePullers();
  const registry = new Registry();
  const metrics = new WorkerMetrics(registry);
  const health = new FakeResidencyHealth();
  const config = { WORKER_MODELS: env.WORKER_MODELS ?? [], WORKER_GPU_MEMORY_GB: 80, WORKER_STATUS_INTERVAL_MS: 60_000, WORKER_LOAD_TIMEOUT_MS: env.WORKER_LOAD_TIMEOUT_MS ?? 5_000 };
  const logger = testLogger();
  const models = new OllamaModels(config, ollama, health, metrics);
  const machine = new LoadEvictMachine(residencyCatalogue, models, pullers, metrics, logger);
  const watcher = new PsWatcher(config, models, health, machine, metrics, logger);
  const keeper = new StaticModelsKeeper(config, residencyCatalogue, machine, health, logger);
  const residency = new ResidencyService(machine, watcher, keeper, new RunningJobs(metrics), health);
  return { residency, machine, watcher, keeper, models, ollama, pullers, registry, health };
}
