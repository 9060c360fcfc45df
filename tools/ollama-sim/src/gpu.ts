/**
 * One simulated GPU running Ollama's scheduler: memory, runners (one per loaded model), parallel
 * slots, the pending queue, one load at a time, eviction and keep-alive.
 *
 * Time: every simulated duration is divided by `timeScale` when waited for in real time. Token
 * timing is computed from absolute targets on a per-runner service clock (never by accumulating
 * setTimeout delays), so rates hold at any scale; reported durations are simulated ones.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { SimModel } from './catalogue';
import type { SimStats } from './stats';

/** Real time, milliseconds (monotonic). */
export const now = (): number => performance.now();

export const QUEUE_FULL_MESSAGE = 'server busy, please try again.  maximum pending requests exceeded';

export class QueueFullError extends Error {
  constructor() {
    super(QUEUE_FULL_MESSAGE);
  }
}

export class RequestCanceledError extends Error {
  constructor() {
    super('request canceled');
  }
}

export class ShutdownError extends Error {
  constructor() {
    super('server shutting down');
  }
}

export interface GpuConfig {
  index: number;
  vramBytes: number;
  /** Slots per loaded model (OLLAMA_NUM_PARALLEL). */
  numParallel: number;
  /** Pending queue bound (OLLAMA_MAX_QUEUE). */
  maxQueue: number;
  /** Loaded models at most (OLLAMA_MAX_LOADED_MODELS); 0 = no limit. */
  maxLoaded: number;
  /** Default keep-alive, simulated seconds; Infinity = forever. */
  keepAliveS: number;
  timeScale: number;
  loadBandwidthGBps: number;
  loadStartupS: number;
  /** Aggregate throughput = one stream × busy^exponent. */
  parallelExponent: number;
  /**
   * `per-gpu` (DEFAULT_COMPUTE_SHARING): the models busy at once on this GPU take turns on it
   * (time-slicing, as separate runner processes on one real GPU do), each getting 1 / (busy models)
   * of its time. `per-model`: every loaded model runs on compute of its own, whatever runs beside it
   * (no real GPU does this; kept to compare with figures measured that way).
   */
  computeSharing?: ComputeSharing;
  /** A model fits next to loaded ones when its prediction ≤ fitFraction × free memory. */
  fitFraction: number;
  /** Default num_ctx (OLLAMA_CONTEXT_LENGTH); 0 = by VRAM, as Ollama. */
  contextLength: number;
  /** CPU offload: a layer on the CPU generates this many times slower than on the GPU. */
  cpuGenSlowdown: number;
  /** CPU offload: a layer on the CPU evaluates the prompt this many times slower. */
  cpuPromptSlowdown: number;
}

/** How the models loaded on one GPU share its compute (`GpuConfig.computeSharing`). */
export const COMPUTE_SHARING = ['per-model', 'per-gpu'] as const;
export type ComputeSharing = (typeof COMPUTE_SHARING)[number];
export const DEFAULT_COMPUTE_SHARING: ComputeSharing = 'per-gpu';

/**
 * One stream's rate of a model split between GPU and CPU (Ollama's partial offload): every token
 * passes every layer, so the time per token is the GPU layers' share at the GPU's rate plus the CPU
 * layers' share at the CPU's: rate = 1 / (gpuFraction / gpuRate + (1 − gpuFraction) / (gpuRate / slowdown)).
 */
export function offloadedRate(gpuRate: number, gpuFraction: number, slowdown: number): number {
  const g = Math.min(1, Math.max(0, gpuFraction));
  return 1 / (g / gpuRate + ((1 - g) * slowdown) / gpuRate);
}

const GIB = 2 ** 30;
const EPS = 1e-9;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** What Ollama reports as the expiry of a forever keep-alive (now + max Go duration, ≈ 292 years). */
const FOREVER_MS = 9_223_372_036_854;

/**
 * Runs `fn` once `ms` real milliseconds have passed, never early and with sub-ms precision: Node
 * truncates fractional delays and measures from its cached loop time, so a timer can fire up to
 * ~1 ms early; this re-arms until the deadline and spins on setImmediate for the last fraction of
 * a millisecond (used for loads and keep-alive, which are rare). Accepts any delay (Node caps one
 * timer at ~24.8 days).
 */
function longTimeout(fn: () => void, ms: number): () => void {
  const deadline = now() + Math.max(0, ms);
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let canceled = false;
  const arm = () => {
    if (canceled) return;
    const left = deadline - now();
    if (left <= 0) return fn();
    if (left < 1) immediate = setImmediate(arm);
    else timer = setTimeout(arm, Math.min(Math.floor(left), MAX_TIMEOUT_MS));
  };
  // Never synchronously: callers finish their bookkeeping first.
  if (ms >= 1) arm();
  else immediate = setImmediate(arm);
  return () => {
    canceled = true;
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  };
}

interface Segment {
  /** Real time, ms. */
  t: number;
  /** Virtual time at t: simulated seconds of one-stream service. */
  v: number;
  /** Virtual seconds per real ms. */
  rate: number;
}

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A runner's compute, shared by its busy slots (processor sharing). Virtual time counts simulated
 * seconds of one-stream service each busy stream has received; it advances at
 * timeScale × busy^(exponent − 1) per real second, so `busy` streams together get busy^exponent
 * times one stream's throughput.
 */
export class ServiceClock {
  private segments: Segment[];
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private closedWith: Error | undefined;

  constructor(
    private readonly timeScale: number,
    private readonly exponent: number,
  ) {
    this.segments = [{ t: now(), v: 0, rate: 0 }];
  }

  private get current(): Segment {
    return this.segments[this.segments.length - 1];
  }

  virtualAt(t: number): number {
    const s = this.current;
    return s.v + Math.max(0, t - s.t) * s.rate;
  }

  virtualNow(): number {
    return this.virtualAt(now());
  }

  /** Real time (ms) at which virtual time reached (or will reach, at the current rate) `v`. */
  realAt(v: number): number {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i];
      if (v >= s.v - EPS) return s.rate > 0 ? s.t + Math.max(0, v - s.v) / s.rate : s.t;
    }
    return this.segments[0].t;
  }

  /** `busy` streams share the runner; the runner has `share` of its GPU's time (per-gpu sharing). */
  setBusy(busy: number, share = 1): void {
    const t = now();
    this.flush(t);
    const rate = busy === 0 ? 0 : (this.timeScale / 1000) * busy ** (this.exponent - 1) * share;
    this.segments.push({ t, v: this.virtualAt(t), rate });
    if (this.segments.length > 512) this.segments = this.segments.slice(-256);
    this.reschedule();
  }

  /** Resolves once virtual time reaches `target`. */
  wait(target: number, signal?: AbortSignal): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (signal?.aborted) return Promise.reject(new RequestCanceledError());
    if (this.virtualNow() >= target - EPS) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiters.delete(w);
        reject(new RequestCanceledError());
      };
      const w: Waiter = {
        target,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(w);
      this.reschedule();
    });
  }

  close(err: Error): void {
    this.closedWith = err;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters) w.reject(err);
    this.waiters.clear();
  }

  private flush(t: number): void {
    const v = this.virtualAt(t);
    for (const w of this.waiters) {
      if (w.target <= v + EPS) {
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  private reschedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const rate = this.current.rate;
    if (this.waiters.size === 0 || rate === 0) return;
    let next = Infinity;
    for (const w of this.waiters) next = Math.min(next, w.target);
    const delay = (next - this.virtualNow()) / rate;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.flush(now());
        this.reschedule();
      },
      Math.max(0, Math.ceil(delay)),
    );
  }
}

export type RunnerState = 'loading' | 'ready';
export type UnloadReason = 'expired' | 'requested' | 'memory' | 'max_loaded' | 'reload' | 'shutdown';

/** A loaded (or loading) model: Ollama's runner with its slots. */
export class Runner {
  state: RunnerState = 'loading';
  /** Requests handed this runner (running or waiting for a slot) or waiting for its load. */
  refCount = 0;
  keepAliveS: number;
  /** Chosen for eviction or reload: takes no new requests, unloads once idle. */
  expiring = false;
  unloadReason: UnloadReason | undefined;
  /** Real time (ms) at which the load completes. */
  readyAt = 0;
  /** Wall-clock expiry (Date ms), as /api/ps shows it. */
  expiresAt = 0;
  readonly loaded: Promise<void>;
  resolveLoaded!: () => void;
  rejectLoaded!: (err: Error) => void;
  readonly clock: ServiceClock;
  slotsTaken = 0;
  readonly slotWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  busySince: number | undefined;
  cancelTimer: (() => void) | undefined;
  /** Share of the model in VRAM (1 unless it is larger than the GPU: the rest runs on the CPU). */
  readonly gpuFraction: number;
  /** One stream's generation rate here, tokens per simulated second (slower when offloaded). */
  readonly genTokensPerS: number;
  /** One stream's prompt rate here, tokens per simulated second (slower when offloaded). */
  readonly promptTokensPerS: number;

  constructor(
    readonly model: SimModel,
    readonly numCtx: number,
    readonly sizeBytes: number,
    readonly sizeVram: number,
    keepAliveS: number,
    cfg: GpuConfig,
  ) {
    this.keepAliveS = keepAliveS;
    this.gpuFraction = sizeBytes > 0 ? Math.min(1, sizeVram / sizeBytes) : 1;
    this.genTokensPerS = offloadedRate(model.genTokensPerS, this.gpuFraction, cfg.cpuGenSlowdown);
    this.promptTokensPerS = offloadedRate(model.promptTokensPerS, this.gpuFraction, cfg.cpuPromptSlowdown);
    this.clock = new ServiceClock(cfg.timeScale, cfg.parallelExponent);
    this.loaded = new Promise<void>((resolve, reject) => {
      this.resolveLoaded = resolve;
      this.rejectLoaded = reject;
    });
    this.loaded.catch(() => undefined);
  }

  clearTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}

/** Real times (ms) of a request's phases, ideal (not delayed by timer jitter). */
export interface ComputeTimes {
  slotAt: number;
  promptEndAt: number;
  endAt: number;
  /** Tokens actually generated (fewer if canceled). */
  generated: number;
}

export interface ComputeJob {
  promptTokens: number;
  genTokens: number;
  signal?: AbortSignal;
  /** Called with the number of tokens generated so far, as they become due. */
  onTokens?: (generated: number) => void;
}

/** A runner handed to a request; release it exactly once. */
export class Lease {
  private released = false;

  constructor(
    private readonly gpu: Gpu,
    readonly runner: Runner,
    /** Real ms the request arrived. */
    readonly arrivedAt: number,
    /** Real ms the runner was handed over (after any load). */
    readonly handoverAt: number,
  ) {}

  compute(job: ComputeJob): Promise<ComputeTimes> {
    return this.gpu.compute(this.runner, job);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.gpu.release(this.runner);
  }
}

interface Pending {
  model: SimModel;
  numCtx: number;
  keepAliveS: number;
  arrivedAt: number;
  state: 'queued' | 'attached' | 'done' | 'canceled';
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
}

export interface RunnerInfo {
  model: SimModel;
  numCtx: number;
  sizeBytes: number;
  sizeVram: number;
  expiresAt: number;
  state: RunnerState;
  busySlots: number;
  waiting: number;
  refCount: number;
  keepAliveS: number;
  /** Share in VRAM; below 1 the rest runs on the CPU. */
  gpuFraction: number;
  genTokensPerS: number;
}

export class Gpu {
  private readonly runners = new Map<string, Runner>();
  private readonly queue: Pending[] = [];
  private loading: Runner | undefined;
  private evicting: Runner | undefined;
  private scheduling = false;
  private closed = false;
  /** Whether the runners busy at once share this GPU's time (`GpuConfig.computeSharing`). */
  private readonly perGpu: boolean;
  /** Since when the GPU has delivered `computeRate` (a share of full batches; undefined while idle). */
  private computeSince = now();
  private computeRate: number | undefined;

  constructor(
    readonly cfg: GpuConfig,
    private readonly stats: SimStats,
    private readonly log?: Logger,
  ) {
    this.perGpu = (cfg.computeSharing ?? DEFAULT_COMPUTE_SHARING) === 'per-gpu';
  }

  /** num_ctx when a request sets none: by total VRAM as Ollama (or the configured one), clamped to the trained context. */
  defaultNumCtx(model: SimModel): number {
    let ctx = this.cfg.contextLength;
    if (ctx <= 0) {
      const vram = this.cfg.vramBytes;
      ctx = vram < 24 * GIB ? 4096 : vram < 48 * GIB ? 32768 : 262144;
    }
    return Math.min(ctx, model.contextLength);
  }

  /** The runner context for a request: its num_ctx (or the default), clamped to the trained context. */
  numCtxFor(model: SimModel, requested: number | undefined): number {
    if (requested === undefined || requested <= 0) return this.defaultNumCtx(model);
    return Math.max(1, Math.min(Math.floor(requested), model.contextLength));
  }

  /** Predicted memory: weights + KV cache for num_ctx × num_parallel tokens. */
  predictBytes(model: SimModel, numCtx: number): number {
    return model.sizeBytes + numCtx * this.cfg.numParallel * model.kvBytesPerToken;
  }

  /** Simulated seconds to load a model: size / bandwidth + start-up. */
  loadSeconds(model: SimModel): number {
    return model.sizeGb / this.cfg.loadBandwidthGBps + this.cfg.loadStartupS;
  }

  usedBytes(): number {
    let used = 0;
    for (const r of this.runners.values()) used += r.sizeVram;
    return used;
  }

  queueDepth(): number {
    return this.queue.length;
  }

  runnerInfos(): RunnerInfo[] {
    return [...this.runners.values()].map((r) => ({
      model: r.model,
      numCtx: r.numCtx,
      sizeBytes: r.sizeBytes,
      sizeVram: r.sizeVram,
      expiresAt: r.expiresAt,
      state: r.state,
      busySlots: r.slotsTaken,
      waiting: r.slotWaiters.length,
      refCount: r.refCount,
      keepAliveS: r.keepAliveS,
      gpuFraction: r.gpuFraction,
      genTokensPerS: r.genTokensPerS,
    }));
  }

  /**
   * Hands the request a runner for `model` with `numCtx`. A loaded runner with the same options is
   * used at once; anything else passes the pending queue (503 when full) and waits for its turn,
   * evictions and the load.
   */
  acquire(model: SimModel, numCtx: number, keepAliveS: number, signal?: AbortSignal): Promise<Lease> {
    const arrivedAt = now();
    return new Promise<Lease>((resolve, reject) => {
      if (this.closed) return reject(new ShutdownError());
      if (signal?.aborted) return reject(new RequestCanceledError());
      const onAbort = () => this.cancel(p);
      const p: Pending = {
        model,
        numCtx,
        keepAliveS,
        arrivedAt,
        state: 'queued',
        resolve: (lease) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const r = this.runners.get(model.name);
      if (r && !r.expiring && r.numCtx === numCtx) {
        this.attach(r, p, now());
        return;
      }
      if (this.queue.length >= this.cfg.maxQueue) {
        this.stats.queueRejected(model.name);
        p.reject(new QueueFullError());
        return;
      }
      this.queue.push(p);
      // The same instant as the arrival: a load that starts at once is all of load_duration.
      this.schedule(arrivedAt);
    });
  }

  /** keep_alive 0 with no prompt: unload now if idle, else as soon as it goes idle. */
  expire(modelName: string): void {
    const r = this.runners.get(modelName);
    if (!r) return;
    r.keepAliveS = 0;
    if (r.refCount === 0 && r.state === 'ready') this.unload(r, 'requested');
  }

  /** Runs a request on its runner: waits for a slot (FIFO), then prompt evaluation and generation. */
  async compute(r: Runner, job: ComputeJob): Promise<ComputeTimes> {
    await this.acquireSlot(r, job.signal);
    const slotAt = now();
    let generated = 0;
    try {
      const clock = r.clock;
      const v0 = clock.virtualNow();
      const vPromptEnd = v0 + job.promptTokens / r.promptTokensPerS;
      await clock.wait(vPromptEnd, job.signal);
      const promptEndAt = clock.realAt(vPromptEnd);
      const perToken = 1 / r.genTokensPerS;
      while (generated < job.genTokens) {
        await clock.wait(vPromptEnd + (generated + 1) * perToken, job.signal);
        const progressed = Math.floor((clock.virtualNow() - vPromptEnd) / perToken + 1e-6);
        generated = Math.min(job.genTokens, Math.max(generated + 1, progressed));
        job.onTokens?.(generated);
      }
      const endAt = job.genTokens > 0 ? clock.realAt(vPromptEnd + job.genTokens * perToken) : promptEndAt;
      return { slotAt, promptEndAt, endAt, generated };
    } finally {
      this.stats.tokens(r.model.name, job.promptTokens, generated);
      this.releaseSlot(r);
    }
  }

  release(r: Runner): void {
    r.refCount--;
    if (r.refCount === 0) this.onIdle(r);
  }

  close(): void {
    this.closed = true;
    const err = new ShutdownError();
    for (const p of this.queue.splice(0)) {
      p.state = 'canceled';
      p.reject(err);
    }
    for (const r of this.runners.values()) {
      r.clearTimer();
      r.rejectLoaded(err);
      r.clock.close(err);
      for (const w of r.slotWaiters.splice(0)) w.reject(err);
    }
    this.runners.clear();
  }

  private cancel(p: Pending): void {
    if (p.state === 'queued') {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
      p.state = 'canceled';
      p.reject(new RequestCanceledError());
      this.schedule(now());
    } else if (p.state === 'attached') {
      // Waiting for a load: the reference is dropped once the load completes.
      p.state = 'canceled';
      p.reject(new RequestCanceledError());
    }
  }

  private attach(r: Runner, p: Pending, at: number): void {
    r.refCount++;
    // A ready runner's timer is its keep-alive expiry; a loading runner's is the load itself,
    // which a request joining the load must not cancel.
    if (r.state === 'ready') r.clearTimer();
    r.keepAliveS = p.keepAliveS;
    r.expiresAt = Date.now() + (Number.isFinite(p.keepAliveS) ? (p.keepAliveS * 1000) / this.cfg.timeScale : FOREVER_MS);
    if (r.state === 'ready') {
      p.state = 'done';
      p.resolve(new Lease(this, r, p.arrivedAt, Math.max(p.arrivedAt, at)));
      return;
    }
    p.state = 'attached';
    r.loaded.then(
      () => {
        if (p.state === 'canceled') {
          this.release(r);
          return;
        }
        p.state = 'done';
        p.resolve(new Lease(this, r, p.arrivedAt, Math.max(p.arrivedAt, r.readyAt)));
      },
      (err: Error) => {
        r.refCount--;
        if (p.state !== 'canceled') p.reject(err);
      },
    );
  }

  /**
   * Ollama's processPending, FIFO with head-of-line blocking: nothing moves while a load runs or
   * while an evicted runner finishes its in-flight requests.
   */
  private schedule(at: number): void {
    if (this.scheduling) return;
    this.scheduling = true;
    try {
      while (this.queue.length > 0 && !this.loading && !this.evicting && !this.closed) {
        const p = this.queue[0];
        const r = this.runners.get(p.model.name);
        if (r && !r.expiring && r.numCtx === p.numCtx) {
          this.queue.shift();
          this.attach(r, p, at);
          continue;
        }
        if (r) {
          // Options changed (num_ctx): reload.
          this.evict(r, 'reload');
          continue;
        }
        const need = this.predictBytes(p.model, p.numCtx);
        if (this.runners.size === 0) {
          this.queue.shift();
          this.startLoad(p, at, need);
        } else if (this.cfg.maxLoaded > 0 && this.runners.size >= this.cfg.maxLoaded) {
          this.evict(this.pickVictim(), 'max_loaded');
        } else if (need <= this.cfg.fitFraction * (this.cfg.vramBytes - this.usedBytes())) {
          this.queue.shift();
          this.startLoad(p, at, need);
        } else {
          this.evict(this.pickVictim(), 'memory');
        }
      }
    } finally {
      this.scheduling = false;
    }
  }

  /** Ollama's findRunnerToUnload: the shortest keep-alive (then name), idle ones first. */
  private pickVictim(): Runner {
    const list = [...this.runners.values()].sort(
      (a, b) => a.keepAliveS - b.keepAliveS || (a.model.name < b.model.name ? -1 : a.model.name > b.model.name ? 1 : 0),
    );
    return list.find((r) => r.refCount === 0) ?? list[0];
  }

  private evict(r: Runner, reason: UnloadReason): void {
    r.expiring = true;
    r.unloadReason = reason;
    if (r.refCount === 0) this.unload(r, reason);
    else this.evicting = r;
  }

  private startLoad(p: Pending, at: number, need: number): void {
    const model = p.model;
    const r = new Runner(model, p.numCtx, need, Math.min(need, this.cfg.vramBytes), p.keepAliveS, this.cfg);
    this.runners.set(model.name, r);
    this.loading = r;
    const loadS = this.loadSeconds(model);
    const loadMs = (loadS * 1000) / this.cfg.timeScale;
    r.readyAt = at + loadMs;
    this.stats.loadStarted(model.name, p.numCtx);
    this.log?.info({ model: model.name, numCtx: p.numCtx, sizeBytes: need, loadSeconds: loadS }, 'loading model');
    this.attach(r, p, at);
    r.cancelTimer = longTimeout(() => {
      r.cancelTimer = undefined;
      r.state = 'ready';
      this.loading = undefined;
      this.stats.loadFinished(model.name, loadS, loadMs / 1000);
      r.resolveLoaded();
      // Requests waiting for this load are handed over (microtasks) before the queue moves on.
      queueMicrotask(() => this.schedule(r.readyAt));
    }, r.readyAt - now());
  }

  private onIdle(r: Runner): void {
    if (this.runners.get(r.model.name) !== r || r.state !== 'ready') return;
    if (r.expiring || r.keepAliveS <= 0) {
      this.unload(r, r.unloadReason ?? 'expired');
      return;
    }
    const ms = Number.isFinite(r.keepAliveS) ? (r.keepAliveS * 1000) / this.cfg.timeScale : Infinity;
    r.expiresAt = Date.now() + (Number.isFinite(ms) ? ms : FOREVER_MS);
    r.clearTimer();
    if (Number.isFinite(ms)) {
      r.cancelTimer = longTimeout(() => {
        r.cancelTimer = undefined;
        this.unload(r, 'expired');
      }, ms);
    }
    // A scheduler waiting for room may be able to move (e.g. a smaller eviction candidate is now idle).
    this.schedule(now());
  }

  private unload(r: Runner, reason: UnloadReason): void {
    if (this.runners.get(r.model.name) !== r) return;
    this.runners.delete(r.model.name);
    r.clearTimer();
    r.clock.close(new ShutdownError());
    this.stats.unloaded(r.model.name, reason);
    this.log?.info({ model: r.model.name, reason }, 'unloaded model');
    if (this.evicting === r) this.evicting = undefined;
    this.schedule(now());
  }

  private acquireSlot(r: Runner, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new RequestCanceledError());
    if (r.slotsTaken < this.cfg.numParallel && r.slotWaiters.length === 0) {
      this.takeSlot(r);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = r.slotWaiters.indexOf(w);
        if (i >= 0) r.slotWaiters.splice(i, 1);
        reject(new RequestCanceledError());
      };
      const w = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      r.slotWaiters.push(w);
    });
  }

  private takeSlot(r: Runner): void {
    if (r.slotsTaken === 0) r.busySince = now();
    r.slotsTaken++;
    this.rerate(r, r.slotsTaken === 1);
  }

  /**
   * Sets the service rate of `changed` (its busy count changed) and, when it just became busy or idle
   * under per-gpu sharing, of every other busy runner here: their shares of the GPU changed.
   */
  private rerate(changed: Runner, busyRunnersChanged: boolean): void {
    this.accountCompute();
    const share = this.share();
    changed.clock.setBusy(changed.slotsTaken, share);
    if (!busyRunnersChanged || !this.perGpu) return;
    for (const x of this.runners.values()) if (x !== changed && x.slotsTaken > 0) x.clock.setBusy(x.slotsTaken, share);
  }

  /**
   * Counts the GPU's compute since the last change of busy slots (`SimStats.compute`): time with any
   * runner busy, and the throughput delivered in that time as a share of one runner with every slot
   * busy (numParallel^exponent streams' worth) — the most a GPU gives. Called on every change of a
   * runner's busy slots, before the new rates take effect.
   */
  private accountCompute(): void {
    const t = now();
    if (this.computeRate !== undefined) this.stats.compute(t - this.computeSince, this.computeRate);
    this.computeSince = t;
    const busy = [...this.runners.values()].filter((x) => x.slotsTaken > 0);
    if (busy.length === 0) {
      this.computeRate = undefined;
      return;
    }
    const full = this.cfg.numParallel ** this.cfg.parallelExponent;
    const share = this.perGpu ? 1 / busy.length : 1;
    this.computeRate = busy.reduce((a, x) => a + (share * Math.min(x.slotsTaken, this.cfg.numParallel) ** this.cfg.parallelExponent) / full, 0);
  }

  /** A busy runner's share of the GPU's time: 1, or 1 / (busy runners) under per-gpu sharing. */
  private share(): number {
    if (!this.perGpu) return 1;
    let busy = 0;
    for (const x of this.runners.values()) if (x.slotsTaken > 0) busy++;
    return busy > 1 ? 1 / busy : 1;
  }

  private releaseSlot(r: Runner): void {
    const next = r.slotWaiters.shift();
    if (next) {
      // The slot passes straight to the next waiter: the busy count does not change.
      next.resolve();
      return;
    }
    r.slotsTaken--;
    if (r.slotsTaken === 0 && r.busySince !== undefined) {
      this.stats.busy(r.model.name, now() - r.busySince);
      r.busySince = undefined;
    }
    this.rerate(r, r.slotsTaken === 0);
  }
}
