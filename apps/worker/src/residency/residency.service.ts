import { Inject, Injectable } from '@nestjs/common';
import type { placementV1 } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { MODEL_CATALOGUE, ModelCatalogue } from '../config/model-catalogue';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { JobPullers } from '../jobs/job-pullers.service';
import { RunningJobs } from '../jobs/running-jobs.registry';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { OLLAMA_CLIENT, type OllamaApi } from '../ollama/ollama.client';
import { OllamaConnectionError } from '../ollama/ollama.errors';
import { OllamaHealth } from '../ollama/ollama-health.service';
import type { OllamaPsModel } from '../ollama/ollama.schema';
import { discoverGpuMemoryBytes } from './gpu-memory';

export type ModelState = 'loading' | 'resident' | 'draining' | 'unloading';

interface ManagedModel {
  model: string;
  numCtx: number;
  state: ModelState;
  sizeBytes: number;
  loadedAtMs: number;
  /** Consecutive /api/ps polls that did not list it while it should be resident. */
  missingPolls: number;
}

export interface LoadOutcome {
  ok: boolean;
  /** Measured load time; for a model that was already loaded, the last measured time (or 0). */
  seconds: number;
  error: string;
}

export interface EvictOutcome {
  ok: boolean;
  error: string;
}

export interface ResidencySnapshot {
  resident: placementV1.ResidentModel[];
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  busySlots: number;
  degraded: boolean;
  loadTimes: placementV1.LoadTime[];
  loadingModel: string;
}

/** Polls in a row a resident model may be missing from /api/ps before it counts as lost. */
const LOST_AFTER_POLLS = 3;
/** Gap between two attempts to load a static model that failed. */
const STATIC_RETRY_MS = 5_000;

type Pullers = Pick<JobPullers, 'start' | 'stop' | 'isPulling' | 'pauseAll' | 'resumeAll'>;
type Health = Pick<OllamaHealth, 'reportFailure' | 'reportSuccess' | 'onChange' | 'degraded' | 'isDown'>;

/**
 * What this worker holds in GPU memory and what it pulls. Loads with `keep_alive: -1` and the
 * catalogue's fixed num_ctx (measuring the load time), evicts by draining the model's puller and
 * then unloading with `keep_alive: 0`, adopts what Ollama already holds at start, keeps the static
 * WORKER_MODELS loaded, and notices when Ollama dropped a model on its own.
 */
@Injectable()
export class ResidencyService {
  private readonly managed = new Map<string, ManagedModel>();
  private readonly loadTimes = new Map<string, number>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly listeners: Array<() => void> = [];
  private readonly staticModels: string[] = [];
  private readonly staticAttempts = new Map<string, number>();
  /** Models that ever had a residency gauge (set back to 0 when they go). */
  private readonly gaugeModels = new Set<string>();
  private loadChain: Promise<unknown> = Promise.resolve();
  private lastPs: OllamaPsModel[] = [];
  private memoryTotal = 0;
  private adopted = false;
  private adopting: Promise<void> | undefined;
  private stopped = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    @Inject(WORKER_CONFIG)
    private readonly config: Pick<WorkerConfig, 'WORKER_MODELS' | 'WORKER_GPU_MEMORY_GB' | 'WORKER_STATUS_INTERVAL_MS' | 'WORKER_LOAD_TIMEOUT_MS'>,
    @Inject(MODEL_CATALOGUE) private readonly catalogue: ModelCatalogue,
    @Inject(OLLAMA_CLIENT) private readonly ollama: OllamaApi,
    @Inject(OllamaHealth) private readonly health: Health,
    @Inject(JobPullers) private readonly pullers: Pullers,
    private readonly running: RunningJobs,
    private readonly metrics: WorkerMetrics,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: ResidencyService.name });
  }

  /** Called whenever residency changes (placement sends a status at once). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    this.memoryTotal = await discoverGpuMemoryBytes(this.config.WORKER_GPU_MEMORY_GB);
    this.metrics.gpuMemory.set({ kind: 'total' }, this.memoryTotal);
    for (const name of this.config.WORKER_MODELS) {
      const entry = this.catalogue.get(name);
      if (!entry) this.log.error({ model: name }, 'WORKER_MODELS names a model that is not in the catalogue: ignored');
      else if (!this.staticModels.includes(entry.name)) this.staticModels.push(entry.name);
    }
    this.health.onChange((up) => {
      if (up) void this.recoverAfterOutage();
      else this.pullers.pauseAll();
    });
    await this.refresh();
    this.refreshTimer = setInterval(() => void this.refresh(), this.config.WORKER_STATUS_INTERVAL_MS);
    this.refreshTimer.unref();
  }

  /** Shutdown: no more loads, evictions or polls. Resident models stay loaded for the next start to adopt. */
  stop(): void {
    this.stopped = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
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
        return { ok: true, seconds: this.loadTimes.get(name) ?? 0, error: '' };
      }
      if (current) {
        // Resident with another num_ctx: drain before Ollama reloads it.
        await this.pullers.stop(name);
      }
      const m: ManagedModel = { model: name, numCtx: ctx, state: 'loading', sizeBytes: entry.sizeBytes, loadedAtMs: 0, missingPolls: 0 };
      this.managed.set(name, m);
      this.changed();

      const already = await this.ollama.ps().then(
        (ps) => ps.some((p) => ModelCatalogue.same(p.name, name) && (!p.context_length || p.context_length === ctx)),
        () => false,
      );
      const started = performance.now();
      try {
        await this.oneLoadAtATime(() => this.ollama.preload(name, { numCtx: ctx, embedding: entry.kind === 'embedding' }, AbortSignal.timeout(this.config.WORKER_LOAD_TIMEOUT_MS)));
      } catch (err) {
        this.managed.delete(name);
        this.changed();
        if (err instanceof OllamaConnectionError) this.health.reportFailure('unreachable', err);
        const error = err instanceof Error ? err.message : String(err);
        this.log.error({ model: name, err: error }, 'load failed');
        return { ok: false, seconds: 0, error };
      }
      const seconds = (performance.now() - started) / 1000;
      if (!already) {
        this.loadTimes.set(name, seconds);
        this.metrics.modelLoad.observe({ model: name }, seconds);
      }
      m.state = 'resident';
      m.loadedAtMs = Date.now();
      if (!this.stopped) await this.pullers.start({ model: name, numCtx: ctx });
      this.changed();
      this.log.info({ model: name, numCtx: ctx, seconds: Number(seconds.toFixed(3)), alreadyLoaded: already }, 'model loaded');
      void this.refresh();
      return { ok: true, seconds: already ? (this.loadTimes.get(name) ?? seconds) : seconds, error: '' };
    });
  }

  /** Stops pulling the model, lets its jobs in flight finish, then unloads it (keep_alive 0). */
  evict(model: string): Promise<EvictOutcome> {
    const name = this.catalogue.canonicalName(model) ?? model;
    return this.serial(name, async (): Promise<EvictOutcome> => {
      const current = this.managed.get(name);
      const inOllama = this.lastPs.some((p) => ModelCatalogue.same(p.name, name));
      if (!current && !inOllama) return { ok: true, error: '' };
      if (current) {
        current.state = 'draining';
        this.changed();
        await this.pullers.stop(name);
        current.state = 'unloading';
      }
      try {
        await this.ollama.unload(name);
      } catch (err) {
        if (err instanceof OllamaConnectionError) this.health.reportFailure('unreachable', err);
        this.managed.delete(name);
        this.changed();
        const error = err instanceof Error ? err.message : String(err);
        this.log.error({ model: name, err: error }, 'unload failed');
        return { ok: false, error };
      }
      this.managed.delete(name);
      this.lastPs = this.lastPs.filter((p) => !ModelCatalogue.same(p.name, name));
      this.changed();
      this.log.info({ model: name }, 'model evicted');
      void this.refresh();
      return { ok: true, error: '' };
    });
  }

  /** What placement reports to the scheduler. */
  snapshot(): ResidencySnapshot {
    const resident: placementV1.ResidentModel[] = [];
    let loadingModel = '';
    for (const m of this.managed.values()) {
      if (m.state === 'loading') {
        loadingModel ||= m.model;
        continue;
      }
      const ps = this.lastPs.find((p) => ModelCatalogue.same(p.name, m.model));
      resident.push({
        model: m.model,
        sizeBytes: ps?.size || m.sizeBytes,
        numCtx: m.numCtx,
        busySlots: this.running.busySlots(m.model),
        pulling: m.state === 'resident' && this.pullers.isPulling(m.model),
        loadedAtMs: m.loadedAtMs,
      });
    }
    for (const p of this.lastPs) {
      if ([...this.managed.keys()].some((name) => ModelCatalogue.same(p.name, name))) continue;
      // Loaded in Ollama but not served by this worker (not in the catalogue, or being adopted).
      resident.push({ model: this.catalogue.canonicalName(p.name) ?? p.name, sizeBytes: p.size, numCtx: p.context_length ?? 0, busySlots: 0, pulling: false, loadedAtMs: 0 });
    }
    return {
      resident,
      memoryTotalBytes: this.memoryTotal,
      memoryUsedBytes: this.memoryUsed(),
      busySlots: this.running.totalBusy(),
      degraded: this.health.degraded,
      loadTimes: [...this.loadTimes].map(([model, seconds]) => ({ model, seconds })),
      loadingModel,
    };
  }

  /** Models whose queues are pulled now. */
  residentModels(): string[] {
    return [...this.managed.values()].filter((m) => m.state === 'resident').map((m) => m.model);
  }

  /** Polls /api/ps: memory used, adoption at start, lost models, static models. */
  async refresh(): Promise<void> {
    if (this.stopped) return;
    let ps: OllamaPsModel[];
    try {
      ps = await this.ollama.ps();
    } catch (err) {
      if (err instanceof OllamaConnectionError) this.health.reportFailure('unreachable', err);
      this.metrics.degraded.set(1);
      return;
    }
    this.health.reportSuccess();
    this.lastPs = ps;
    this.metrics.gpuMemory.set({ kind: 'used' }, this.memoryUsed());
    this.metrics.degraded.set(this.health.degraded ? 1 : 0);
    if (!this.adopted) await this.adopt(ps);
    else this.reconcile(ps);
    this.ensureStatic();
  }

  /**
   * Ollama answers again after being unreachable. If it restarted it holds nothing: the models this
   * worker serves are loaded again (keep_alive -1, fixed num_ctx, one at a time) before pulling
   * resumes, so queued jobs do not each wait on a cold load.
   */
  private async recoverAfterOutage(): Promise<void> {
    if (this.stopped) return;
    try {
      const ps = await this.ollama.ps();
      const lost = [...this.managed.values()].filter((m) => m.state === 'resident' && !ps.some((p) => ModelCatalogue.same(p.name, m.model)));
      for (const m of lost) {
        const entry = this.catalogue.get(m.model);
        this.log.info({ model: m.model }, 'Ollama came back without this model: loading it again before pulling');
        const started = performance.now();
        await this.oneLoadAtATime(() => this.ollama.preload(m.model, { numCtx: m.numCtx, embedding: entry?.kind === 'embedding' }, AbortSignal.timeout(this.config.WORKER_LOAD_TIMEOUT_MS)));
        const seconds = (performance.now() - started) / 1000;
        this.loadTimes.set(m.model, seconds);
        this.metrics.modelLoad.observe({ model: m.model }, seconds);
        m.loadedAtMs = Date.now();
      }
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'reloading after the outage failed; pulling anyway');
    }
    if (this.health.isDown || this.stopped) return;
    this.pullers.resumeAll();
    await this.refresh();
  }

  private adopt(ps: OllamaPsModel[]): Promise<void> {
    this.adopting ??= (async () => {
      for (const p of ps) {
        const entry = this.catalogue.get(p.name);
        if (!entry) {
          this.log.warn({ model: p.name }, 'Ollama holds a model that is not in the catalogue: not serving it');
          continue;
        }
        if (this.managed.has(entry.name)) continue;
        if (p.context_length && p.context_length !== entry.contextWindow) {
          this.log.info({ model: entry.name, contextLength: p.context_length, numCtx: entry.contextWindow }, 'adopting a model loaded with another num_ctx: reloading it');
          void this.load(entry.name);
          continue;
        }
        await this.serial(entry.name, async () => {
          if (this.managed.has(entry.name) || this.stopped) return;
          this.managed.set(entry.name, { model: entry.name, numCtx: entry.contextWindow, state: 'resident', sizeBytes: p.size || entry.sizeBytes, loadedAtMs: Date.now(), missingPolls: 0 });
          await this.pullers.start({ model: entry.name, numCtx: entry.contextWindow });
          this.log.info({ model: entry.name, numCtx: entry.contextWindow }, 'adopted a model Ollama already holds');
          this.changed();
        });
      }
      this.adopted = true;
    })().finally(() => (this.adopting = undefined));
    return this.adopting;
  }

  private reconcile(ps: OllamaPsModel[]): void {
    const loading = [...this.managed.values()].some((m) => m.state === 'loading');
    for (const m of this.managed.values()) {
      if (m.state !== 'resident') continue;
      if (ps.some((p) => ModelCatalogue.same(p.name, m.model))) {
        m.missingPolls = 0;
        continue;
      }
      if (loading) continue;
      if (++m.missingPolls < LOST_AFTER_POLLS) continue;
      m.missingPolls = 0;
      if (this.staticModels.includes(m.model)) {
        this.log.warn({ model: m.model }, 'Ollama no longer holds a static model: loading it again');
        this.managed.delete(m.model);
        void this.load(m.model, m.numCtx);
      } else {
        this.log.warn({ model: m.model }, 'Ollama no longer holds this model: stopped pulling its queue');
        void this.serial(m.model, async () => {
          if (this.managed.get(m.model) !== m) return;
          this.managed.delete(m.model);
          await this.pullers.stop(m.model);
          this.changed();
        });
      }
    }
  }

  private ensureStatic(): void {
    if (this.stopped || this.health.isDown) return;
    const now = Date.now();
    for (const name of this.staticModels) {
      if (this.managed.has(name)) continue;
      const last = this.staticAttempts.get(name) ?? -Infinity;
      if (now - last < STATIC_RETRY_MS) continue;
      this.staticAttempts.set(name, now);
      void this.load(name);
    }
  }

  private memoryUsed(): number {
    return this.lastPs.reduce((sum, p) => sum + (p.size_vram ?? p.size), 0);
  }

  private changed(): void {
    const resident = [...this.managed.values()].filter((m) => m.state === 'resident');
    this.metrics.residentModels.set(resident.length);
    for (const m of this.managed.values()) this.gaugeModels.add(m.model);
    for (const model of this.gaugeModels) this.metrics.modelResident.set({ model }, this.managed.get(model)?.state === 'resident' ? 1 : 0);
    for (const listener of this.listeners) listener();
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

  /** Ollama loads one model at a time; so does the worker, so each load is measured alone. */
  private oneLoadAtATime<T>(op: () => Promise<T>): Promise<T> {
    const next = this.loadChain.then(op, op);
    this.loadChain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}
