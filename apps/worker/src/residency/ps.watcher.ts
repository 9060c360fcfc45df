import { Inject, Injectable } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { ModelCatalogue } from '../config/model-catalogue';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { OllamaConnectionError } from '../ollama/ollama.errors';
import { OllamaHealth } from '../ollama/ollama-health.service';
import type { OllamaPsModel } from '../ollama/ollama.schema';
import { discoverGpuMemory } from './gpu-memory';
import { LoadEvictMachine } from './load-evict.machine';
import { OllamaModels } from './ollama-models.adapter';

/** Polls in a row a resident model may be missing from /api/ps before it counts as lost. */
const LOST_AFTER_POLLS = 3;

type Health = Pick<OllamaHealth, 'reportFailure' | 'reportSuccess' | 'onChange' | 'degraded' | 'isDown'>;

/**
 * Watches what Ollama holds: polls `/api/ps` every WORKER_STATUS_INTERVAL_MS (and after each load
 * or eviction), adopts at start the models Ollama already holds, notices a resident model Ollama
 * dropped on its own (missing from LOST_AFTER_POLLS polls in a row), reports the GPU memory in use,
 * and after an Ollama outage has the lost models loaded again before pulling resumes.
 */
@Injectable()
export class PsWatcher {
  private readonly pollListeners: Array<() => void> = [];
  private memoryTotal = 0;
  private adopted = false;
  private adopting: Promise<void> | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: Pick<WorkerConfig, 'WORKER_GPU_MEMORY_GB' | 'WORKER_STATUS_INTERVAL_MS'> & Partial<Pick<WorkerConfig, 'OLLAMA_URL'>>,
    private readonly ollama: OllamaModels,
    @Inject(OllamaHealth) private readonly health: Health,
    private readonly machine: LoadEvictMachine,
    private readonly metrics: WorkerMetrics,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: PsWatcher.name });
    this.machine.onSettled(() => void this.refresh());
  }

  get memoryTotalBytes(): number {
    return this.memoryTotal;
  }

  memoryUsedBytes(): number {
    return this.ollama.lastListed().reduce((sum, p) => sum + (p.size_vram ?? p.size), 0);
  }

  /** Called after each successful poll. */
  onPolled(listener: () => void): void {
    this.pollListeners.push(listener);
  }

  async start(): Promise<void> {
    const memory = await discoverGpuMemory(this.config.WORKER_GPU_MEMORY_GB, this.config.OLLAMA_URL);
    this.memoryTotal = memory.bytes;
    this.metrics.setGpuMemory('total', memory.bytes);
    this.log.info({ gpuMemoryBytes: memory.bytes, source: memory.source }, memory.bytes > 0 ? 'GPU memory known' : 'GPU memory unknown: set WORKER_GPU_MEMORY_GB');
    this.health.onChange((up) => {
      if (up) void this.recoverAfterOutage();
      else this.machine.pausePulling();
    });
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.config.WORKER_STATUS_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Polls /api/ps: memory used, adoption at start, lost models, then the poll listeners. */
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
    this.ollama.observe(ps);
    this.metrics.setGpuMemory('used', this.memoryUsedBytes());
    this.metrics.degraded.set(this.health.degraded ? 1 : 0);
    if (!this.adopted) await this.adopt(ps);
    else this.reconcile(ps);
    for (const listener of this.pollListeners) listener();
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
      const lost = this.machine.models().filter((m) => m.state === 'resident' && !ps.some((p) => ModelCatalogue.same(p.name, m.model)));
      for (const m of lost) {
        this.log.info({ model: m.model }, 'Ollama came back without this model: loading it again before pulling');
        // Not reported to OllamaHealth: pulling resumes anyway, and the jobs report what they meet.
        this.ollama.record(m.model, await this.ollama.load(m.model, { numCtx: m.numCtx, embedding: m.embedding }, { reportUnreachable: false }));
        m.loadedAtMs = Date.now();
      }
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'reloading after the outage failed; pulling anyway');
    }
    if (this.health.isDown || this.stopped) return;
    this.machine.resumePulling();
    await this.refresh();
  }

  private adopt(ps: OllamaPsModel[]): Promise<void> {
    this.adopting ??= (async () => {
      for (const p of ps) await this.machine.adopt(p);
      this.adopted = true;
    })().finally(() => (this.adopting = undefined));
    return this.adopting;
  }

  private reconcile(ps: OllamaPsModel[]): void {
    const models = this.machine.models();
    const loading = models.some((m) => m.state === 'loading');
    for (const m of models) {
      if (m.state !== 'resident') continue;
      if (ps.some((p) => ModelCatalogue.same(p.name, m.model))) {
        m.missingPolls = 0;
        continue;
      }
      if (loading) continue;
      if (++m.missingPolls < LOST_AFTER_POLLS) continue;
      m.missingPolls = 0;
      this.machine.lost(m);
    }
  }
}
