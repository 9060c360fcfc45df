/**
 * Counters for benchmarks: GET /sim/stats (JSON) and GET /metrics (Prometheus, one Registry per
 * simulated GPU, names switchyard_sim_*). Durations are given twice: `*_sim` in simulated seconds
 * (what a real GPU would take) and `*_real` in real, unscaled seconds (sim = real × time-scale).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { UnloadReason } from './gpu';

export interface ModelStats {
  requests: number;
  rejected_queue_full: number;
  prompt_tokens: number;
  tokens_generated: number;
  loads: number;
  /** Unloads forced by the scheduler (memory, max-loaded, num_ctx reload). */
  evictions: number;
  /** Unloads when keep-alive ran out. */
  expiries: number;
  /** Unloads asked for (keep_alive 0). */
  unload_requests: number;
  loading_seconds_sim: number;
  loading_seconds_real: number;
  /** Time with at least one busy slot (prompt evaluation or generation). */
  busy_seconds_sim: number;
  busy_seconds_real: number;
}

function emptyModelStats(): ModelStats {
  return {
    requests: 0,
    rejected_queue_full: 0,
    prompt_tokens: 0,
    tokens_generated: 0,
    loads: 0,
    evictions: 0,
    expiries: 0,
    unload_requests: 0,
    loading_seconds_sim: 0,
    loading_seconds_real: 0,
    busy_seconds_sim: 0,
    busy_seconds_real: 0,
  };
}

/** Live state the gauges read at scrape time. */
export interface GaugeSource {
  loadedModels(): number;
  queueDepth(): number;
  usedBytes(): number;
  busySlots(): Array<{ model: string; busy: number }>;
}

export class SimStats {
  readonly registry = new Registry();
  private models = new Map<string, ModelStats>();
  private since = new Date();
  private readonly requestsTotal: Counter<'model' | 'endpoint'>;
  private readonly rejectionsTotal: Counter<'model'>;
  private readonly loadsTotal: Counter<'model'>;
  private readonly unloadsTotal: Counter<'model' | 'reason'>;
  private readonly evictionsTotal: Counter<'model'>;
  private readonly loadSeconds: Histogram<'model'>;
  private readonly promptTokensTotal: Counter<'model'>;
  private readonly generatedTokensTotal: Counter<'model'>;
  private readonly busySecondsTotal: Counter<'model'>;

  private source: GaugeSource | undefined;
  /** Simulated seconds with any runner busy, and the full-batch seconds delivered in them (see `compute`). */
  private gpuBusySim = 0;
  private fullBatchSim = 0;

  constructor(
    readonly gpuIndex: number,
    readonly timeScale: number,
    readonly vramBytes: number,
  ) {
    const source = () => this.source;
    const registers = [this.registry];
    this.registry.setDefaultLabels({ gpu: String(gpuIndex) });
    this.requestsTotal = new Counter({ name: 'switchyard_sim_requests_total', help: 'Requests by model and endpoint', labelNames: ['model', 'endpoint'], registers });
    this.rejectionsTotal = new Counter({ name: 'switchyard_sim_queue_rejections_total', help: 'Requests answered 503 because the pending queue was full', labelNames: ['model'], registers });
    this.loadsTotal = new Counter({ name: 'switchyard_sim_model_loads_total', help: 'Completed model loads', labelNames: ['model'], registers });
    this.unloadsTotal = new Counter({ name: 'switchyard_sim_model_unloads_total', help: 'Model unloads by reason (expired, requested, memory, max_loaded, reload, shutdown)', labelNames: ['model', 'reason'], registers });
    this.evictionsTotal = new Counter({ name: 'switchyard_sim_model_evictions_total', help: 'Unloads forced by the scheduler (memory, max_loaded, reload)', labelNames: ['model'], registers });
    this.loadSeconds = new Histogram({ name: 'switchyard_sim_model_load_seconds', help: 'Model load time, simulated seconds', labelNames: ['model'], buckets: [0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60], registers });
    this.promptTokensTotal = new Counter({ name: 'switchyard_sim_prompt_tokens_total', help: 'Prompt tokens evaluated', labelNames: ['model'], registers });
    this.generatedTokensTotal = new Counter({ name: 'switchyard_sim_generated_tokens_total', help: 'Tokens generated', labelNames: ['model'], registers });
    this.busySecondsTotal = new Counter({ name: 'switchyard_sim_busy_seconds_total', help: 'Simulated seconds a model had at least one busy slot', labelNames: ['model'], registers });
    new Gauge({
      name: 'switchyard_sim_loaded_models',
      help: 'Models loaded or loading',
      registers,
      collect() {
        this.set(source()?.loadedModels() ?? 0);
      },
    });
    new Gauge({
      name: 'switchyard_sim_pending_queue_depth',
      help: "Requests in Ollama's pending queue",
      registers,
      collect() {
        this.set(source()?.queueDepth() ?? 0);
      },
    });
    new Gauge({
      name: 'switchyard_sim_vram_used_bytes',
      help: 'Predicted memory of the loaded models',
      registers,
      collect() {
        this.set(source()?.usedBytes() ?? 0);
      },
    });
    new Gauge({
      name: 'switchyard_sim_vram_total_bytes',
      help: 'Simulated GPU memory',
      registers,
      collect() {
        this.set(vramBytes);
      },
    });
    new Gauge({
      name: 'switchyard_sim_busy_slots',
      help: 'Busy parallel slots per loaded model',
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { model, busy } of source()?.busySlots() ?? []) this.set({ model }, busy);
      },
    });
  }

  /** Where the gauges read live state (the GPU) at scrape time. */
  attachGauges(source: GaugeSource): void {
    this.source = source;
  }

  private model(name: string): ModelStats {
    let m = this.models.get(name);
    if (!m) {
      m = emptyModelStats();
      this.models.set(name, m);
    }
    return m;
  }

  request(model: string, endpoint: string): void {
    this.model(model).requests++;
    this.requestsTotal.inc({ model, endpoint });
  }

  queueRejected(model: string): void {
    this.model(model).rejected_queue_full++;
    this.rejectionsTotal.inc({ model });
  }

  loadStarted(model: string, _numCtx: number): void {
    this.model(model);
  }

  loadFinished(model: string, simSeconds: number, realSeconds: number): void {
    const m = this.model(model);
    m.loads++;
    m.loading_seconds_sim += simSeconds;
    m.loading_seconds_real += realSeconds;
    this.loadsTotal.inc({ model });
    this.loadSeconds.observe({ model }, simSeconds);
  }

  unloaded(model: string, reason: UnloadReason): void {
    const m = this.model(model);
    if (reason === 'expired') m.expiries++;
    else if (reason === 'requested') m.unload_requests++;
    else if (reason !== 'shutdown') {
      m.evictions++;
      this.evictionsTotal.inc({ model });
    }
    this.unloadsTotal.inc({ model, reason });
  }

  busy(model: string, realMs: number): void {
    const m = this.model(model);
    m.busy_seconds_real += realMs / 1000;
    m.busy_seconds_sim += (realMs / 1000) * this.timeScale;
    this.busySecondsTotal.inc({ model }, (realMs / 1000) * this.timeScale);
  }

  /**
   * `realMs` with some runner busy, delivering `fullBatches` of the GPU's most (a runner with every
   * slot busy has 1; per-gpu sharing splits the time between the busy runners, and a runner with
   * fewer busy slots gives less than its share: busy^exponent of numParallel^exponent).
   */
  compute(realMs: number, fullBatches: number): void {
    const sim = (realMs / 1000) * this.timeScale;
    this.gpuBusySim += sim;
    this.fullBatchSim += sim * fullBatches;
  }

  tokens(model: string, prompt: number, generated: number): void {
    const m = this.model(model);
    m.prompt_tokens += prompt;
    m.tokens_generated += generated;
    if (prompt > 0) this.promptTokensTotal.inc({ model }, prompt);
    if (generated > 0) this.generatedTokensTotal.inc({ model }, generated);
  }

  reset(): void {
    this.models = new Map();
    this.since = new Date();
    this.gpuBusySim = 0;
    this.fullBatchSim = 0;
    this.registry.resetMetrics();
  }

  /**
   * Totals and per-model figures; busy time of periods still running is not yet included. `compute`:
   * simulated seconds with any runner busy, and the compute delivered in them in full-batch seconds
   * (their ratio is how close to its most the GPU ran while busy).
   */
  snapshot(): {
    since: string;
    elapsed_seconds_real: number;
    elapsed_seconds_sim: number;
    compute: { busy_seconds_sim: number; full_batch_seconds_sim: number };
    totals: ModelStats;
    models: Record<string, ModelStats>;
  } {
    const totals = emptyModelStats();
    const models: Record<string, ModelStats> = {};
    for (const [name, m] of [...this.models.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      models[name] = { ...m };
      for (const k of Object.keys(totals) as Array<keyof ModelStats>) totals[k] += m[k];
    }
    const elapsed = (Date.now() - this.since.getTime()) / 1000;
    return {
      since: this.since.toISOString(),
      elapsed_seconds_real: elapsed,
      elapsed_seconds_sim: elapsed * this.timeScale,
      compute: { busy_seconds_sim: this.gpuBusySim, full_batch_seconds_sim: this.fullBatchSim },
      totals,
      models,
    };
  }
}
