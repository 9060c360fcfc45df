import { Inject, Injectable } from '@nestjs/common';
import type { placementV1 } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { MODEL_CATALOGUE, ModelCatalogue } from '../config/model-catalogue';
import { JobPullers } from '../jobs/job-pullers.service';
import { WorkerMetrics } from '../metrics/worker.metrics';
import type { OllamaPsModel } from '../ollama/ollama.schema';
import { OllamaModels } from './ollama-models.adapter';
import type { EvictOutcome, LoadOutcome, ManagedModel } from './residency.types';

type Pullers = Pick<JobPullers, 'start' | 'stop' | 'isPulling' | 'pauseAll' | 'resumeAll'>;

/**
 * The models this worker manages and the moves between their states (loading → resident →
 * draining → unloading → gone; adopted as resident), each starting or stopping the model's puller.
 * Operations on one model run one after another (a load waits for an eviction in progress, so a
 * model never has two pullers); OllamaModels loads one model at a time.
 */
@Injectable()
export class LoadEvictMachine {
  private readonly managed = new Map<string, ManagedModel>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly changeListeners: Array<() => void> = [];
  private readonly settleListeners: Array<() => void> = [];
  /** Models loaded again at once when Ollama drops them (the static WORKER_MODELS). */
  private readonly kept = new Set<string>();
  /** Models that ever had a residency gauge (set back to 0 when they go). */
  private readonly gaugeModels = new Set<string>();
  private stopped = false;
  private readonly log: Logger;

  constructor(
    @Inject(MODEL_CATALOGUE) private readonly catalogue: ModelCatalogue,
    private readonly ollama: OllamaModels,
    @Inject(JobPullers) private readonly pullers: Pullers,
    private readonly metrics: WorkerMetrics,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: LoadEvictMachine.name });
  }

  /** Called whenever residency changes (placement sends a status at once). */
  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  /** Called after each load or eviction that reached Ollama (what it holds has changed). */
  onSettled(listener: () => void): void {
    this.settleListeners.push(listener);
  }

  /** Shutdown: no more loads or adoptions. */
  stop(): void {
    this.stopped = true;
  }

  keep(model: string): void {
    this.kept.add(model);
  }

  models(): ManagedModel[] {
    return [...this.managed.values()];
  }

  has(model: string): boolean {
    return this.managed.has(model);
  }

  /** Models whose queues are pulled now. */
  residentModels(): string[] {
    return this.models().flatMap((m) => (m.state === 'resident' ? [m.model] : []));
  }

  /** Loads a model (Load command or static mode), then starts pulling its queue. */
  load(model: string, numCtx?: number): Promise<LoadOutcome> {
    const entry = this.catalogue.get(model);
    if (!entry) return Promise.resolve({ ok: false, seconds: 0, error: `${model} is not in the model catalogue` });
    const name = entry.name;
    const ctx = numCtx && numCtx > 0 ? numCtx : entry.contextWindow;
    return this.serial(name, async (): Promise<LoadOutcome> => {
      if (this.stopped) return { ok: false, seconds: 0, error: 'worker is shutting down' };
      const current = this.managed.get(name);
      if (current?.state === 'resident' && current.numCtx === ctx) {
        return { ok: true, seconds: this.ollama.lastLoadSeconds(name) ?? 0, error: '' };
      }
      if (current) {
        // Resident with another num_ctx: drain before Ollama reloads it.
        await this.pullers.stop(name);
      }
      const embedding = entry.kind === 'embedding';
      const m: ManagedModel = { model: name, numCtx: ctx, embedding, state: 'loading', sizeBytes: entry.sizeBytes, loadedAtMs: 0, missingPolls: 0 };
      this.managed.set(name, m);
      this.changed();

      const already = await this.ollama.holdsNow(name, ctx);
      let seconds: number;
      try {
        seconds = await this.ollama.load(name, { numCtx: ctx, embedding });
      } catch (err) {
        this.managed.delete(name);
        this.changed();
        const error = err instanceof Error ? err.message : String(err);
        this.log.error({ model: name, err: error }, 'load failed');
        return { ok: false, seconds: 0, error };
      }
      if (!already) this.ollama.record(name, seconds);
      m.state = 'resident';
      m.loadedAtMs = Date.now();
      if (!this.stopped) await this.pullers.start({ model: name, numCtx: ctx });
      this.changed();
      this.log.info({ model: name, numCtx: ctx, seconds: Number(seconds.toFixed(3)), alreadyLoaded: already }, 'model loaded');
      this.settled();
      return { ok: true, seconds: already ? (this.ollama.lastLoadSeconds(name) ?? seconds) : seconds, error: '' };
    });
  }

  /** Stops pulling the model, lets its jobs in flight finish, then unloads it (keep_alive 0). */
  evict(model: string): Promise<EvictOutcome> {
    const name = this.catalogue.canonicalName(model) ?? model;
    return this.serial(name, async (): Promise<EvictOutcome> => {
      const current = this.managed.get(name);
      if (!current && !this.ollama.wasListed(name)) return { ok: true, error: '' };
      if (current) {
        current.state = 'draining';
        this.changed();
        await this.pullers.stop(name);
        current.state = 'unloading';
      }
      try {
        await this.ollama.unload(name);
      } catch (err) {
        this.managed.delete(name);
        this.changed();
        const error = err instanceof Error ? err.message : String(err);
        this.log.error({ model: name, err: error }, 'unload failed');
        return { ok: false, error };
      }
      this.managed.delete(name);
      this.changed();
      this.log.info({ model: name }, 'model evicted');
      this.settled();
      return { ok: true, error: '' };
    });
  }

  /** A model Ollama already holds (found at start) is served as it is; one with another num_ctx is reloaded. */
  async adopt(p: OllamaPsModel): Promise<void> {
    const entry = this.catalogue.get(p.name);
    if (!entry) {
      this.log.warn({ model: p.name }, 'Ollama holds a model that is not in the catalogue: not serving it');
      return;
    }
    if (this.managed.has(entry.name)) return;
    if (p.context_length && p.context_length !== entry.contextWindow) {
      this.log.info({ model: entry.name, contextLength: p.context_length, numCtx: entry.contextWindow }, 'adopting a model loaded with another num_ctx: reloading it');
      void this.load(entry.name);
      return;
    }
    await this.serial(entry.name, async () => {
      if (this.managed.has(entry.name) || this.stopped) return;
      const embedding = entry.kind === 'embedding';
      this.managed.set(entry.name, { model: entry.name, numCtx: entry.contextWindow, embedding, state: 'resident', sizeBytes: p.size || entry.sizeBytes, loadedAtMs: Date.now(), missingPolls: 0 });
      await this.pullers.start({ model: entry.name, numCtx: entry.contextWindow });
      this.log.info({ model: entry.name, numCtx: entry.contextWindow }, 'adopted a model Ollama already holds');
      this.changed();
    });
  }

  /** Ollama no longer holds a resident model: a kept one is loaded again, another is no longer pulled. */
  lost(m: ManagedModel): void {
    if (this.kept.has(m.model)) {
      this.log.warn({ model: m.model }, 'Ollama no longer holds a static model: loading it again');
      this.managed.delete(m.model);
      void this.load(m.model, m.numCtx);
      return;
    }
    this.log.warn({ model: m.model }, 'Ollama no longer holds this model: stopped pulling its queue');
    void this.serial(m.model, async () => {
      if (this.managed.get(m.model) !== m) return;
      this.managed.delete(m.model);
      await this.pullers.stop(m.model);
      this.changed();
    });
  }

  /** Ollama is down: no puller fetches new jobs (jobs in flight go on). */
  pausePulling(): void {
    this.pullers.pauseAll();
  }

  resumePulling(): void {
    this.pullers.resumeAll();
  }

  /** The models placement reports: managed ones (loading aside) and the others Ollama holds; the model loading now. */
  report(busySlots: (model: string) => number): { resident: placementV1.ResidentModel[]; loadTimes: placementV1.LoadTime[]; loadingModel: string } {
    const resident: placementV1.ResidentModel[] = [];
    let loadingModel = '';
    for (const m of this.managed.values()) {
      if (m.state === 'loading') {
        loadingModel ||= m.model;
        continue;
      }
      const ps = this.ollama.lastListed().find((p) => ModelCatalogue.same(p.name, m.model));
      resident.push({
        model: m.model,
        sizeBytes: ps?.size || m.sizeBytes,
        numCtx: m.numCtx,
        busySlots: busySlots(m.model),
        pulling: m.state === 'resident' && this.pullers.isPulling(m.model),
        loadedAtMs: m.loadedAtMs,
      });
    }
    for (const p of this.ollama.lastListed()) {
      if ([...this.managed.keys()].some((name) => ModelCatalogue.same(p.name, name))) continue;
      // Loaded in Ollama but not served by this worker (not in the catalogue, or being adopted).
      resident.push({ model: this.catalogue.canonicalName(p.name) ?? p.name, sizeBytes: p.size, numCtx: p.context_length ?? 0, busySlots: 0, pulling: false, loadedAtMs: 0 });
    }
    return { resident, loadTimes: this.ollama.loadTimes(), loadingModel };
  }

  private changed(): void {
    this.metrics.residentModels.set(this.residentModels().length);
    for (const m of this.managed.values()) this.gaugeModels.add(m.model);
    for (const model of this.gaugeModels) this.metrics.modelResident.set({ model }, this.managed.get(model)?.state === 'resident' ? 1 : 0);
    for (const listener of this.changeListeners) listener();
  }

  private settled(): void {
    for (const listener of this.settleListeners) listener();
  }

  /** Runs operations on one model one after another (a load waits for an eviction in progress). */
  private serial<T>(model: string, op: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(model) ?? Promise.resolve();
    const next = previous.then(op, op);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(model, settled);
    void settled.then(() => {
      if (this.chains.get(model) === settled) this.chains.delete(model);
    });
    return next;
  }
}
