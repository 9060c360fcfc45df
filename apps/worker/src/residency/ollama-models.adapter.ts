import { Inject, Injectable } from '@nestjs/common';
import type { placementV1 } from '@switchyard/contracts';
import { ModelCatalogue } from '../config/model-catalogue';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { OLLAMA_CLIENT, type OllamaApi } from '../ollama/ollama.client';
import { OllamaConnectionError } from '../ollama/ollama.errors';
import { OllamaHealth } from '../ollama/ollama-health.service';
import type { OllamaPsModel } from '../ollama/ollama.schema';

/**
 * Residency's side of Ollama: what it holds (`/api/ps`, and what the last poll listed), loading a
 * model (`keep_alive: -1`, the fixed num_ctx) one at a time and measuring it, unloading one
 * (`keep_alive: 0`), and each model's measured load time. A load or unload that finds Ollama
 * unreachable reports it to OllamaHealth.
 */
@Injectable()
export class OllamaModels {
  private listed: OllamaPsModel[] = [];
  private readonly seconds = new Map<string, number>();
  private loadChain: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: Pick<WorkerConfig, 'WORKER_LOAD_TIMEOUT_MS'>,
    @Inject(OLLAMA_CLIENT) private readonly ollama: OllamaApi,
    @Inject(OllamaHealth) private readonly health: Pick<OllamaHealth, 'reportFailure'>,
    private readonly metrics: WorkerMetrics,
  ) {}

  ps(): Promise<OllamaPsModel[]> {
    return this.ollama.ps();
  }

  /** Keeps what a poll of /api/ps listed. */
  observe(ps: OllamaPsModel[]): void {
    this.listed = ps;
  }

  /** What the last poll listed (less what was unloaded since). */
  lastListed(): readonly OllamaPsModel[] {
    return this.listed;
  }

  wasListed(model: string): boolean {
    return this.listed.some((p) => ModelCatalogue.same(p.name, model));
  }

  /** Whether Ollama holds the model now with this num_ctx (or does not say which); false when it does not answer. */
  holdsNow(model: string, numCtx: number): Promise<boolean> {
    return this.ollama.ps().then(
      (ps) => ps.some((p) => ModelCatalogue.same(p.name, model) && (!p.context_length || p.context_length === numCtx)),
      () => false,
    );
  }

  /**
   * Loads the model and resolves with the seconds it took (from the call, a wait for another load
   * included). Ollama loads one model at a time; so does the worker, so each load is measured alone.
   */
  async load(model: string, opts: { numCtx: number; embedding: boolean }, failures = { reportUnreachable: true }): Promise<number> {
    const started = performance.now();
    try {
      await this.oneLoadAtATime(() => this.ollama.preload(model, opts, AbortSignal.timeout(this.config.WORKER_LOAD_TIMEOUT_MS)));
    } catch (err) {
      if (failures.reportUnreachable) this.reportUnreachable(err);
      throw err;
    }
    return (performance.now() - started) / 1000;
  }

  async unload(model: string): Promise<void> {
    try {
      await this.ollama.unload(model);
    } catch (err) {
      this.reportUnreachable(err);
      throw err;
    }
    this.listed = this.listed.filter((p) => !ModelCatalogue.same(p.name, model));
  }

  /** Keeps a measured load time (reported to the scheduler) and observes it in the load histogram. */
  record(model: string, seconds: number): void {
    this.seconds.set(model, seconds);
    this.metrics.modelLoad.observe({ model }, seconds);
  }

  lastLoadSeconds(model: string): number | undefined {
    return this.seconds.get(model);
  }

  loadTimes(): placementV1.LoadTime[] {
    return [...this.seconds].map(([model, seconds]) => ({ model, seconds }));
  }

  private reportUnreachable(err: unknown): void {
    if (err instanceof OllamaConnectionError) this.health.reportFailure('unreachable', err);
  }

  private oneLoadAtATime<T>(op: () => Promise<T>): Promise<T> {
    const next = this.loadChain.then(op, op);
    this.loadChain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}
