/**
 * A mutable working copy of the cluster for one decision: which models each worker holds, the
 * memory they use, and what has already been decided this round, so that the decisions of one
 * round account for each other (two loads never claim the same free memory).
 */
import type { ClusterState, Command, LoadReason, ModelDemand, WorkerSnapshot } from './cluster-state';
import { poolModelField } from '@switchyard/contracts';
import { ModelFacts, OLLAMA_FIT_FRACTION, RUNTIME_OVERHEAD, UNKNOWN_MEMORY_MAX_MODELS } from './cost-model';

export interface PlanModel {
  model: string;
  footprint: number;
  busySlots: number;
  /** Resident and pulled by the worker (which is not degraded), and not on its way out. */
  serving: boolean;
  /** Resident but not pulled (the worker registered with it, or drains it on its own). */
  idleResident: boolean;
  loading: boolean;
  evicting: boolean;
  /** For an eviction in progress: the model it makes room for. */
  evictingFor?: string;
  loadedAtMs: number;
}

export interface PlanWorker {
  snap: WorkerSnapshot;
  /** Usable bytes (total less the reserve); Infinity when the worker does not know its memory. */
  capacity: number;
  /**
   * Bytes a model may take when it is alone on the GPU: the reserve and the runtime-overhead margin
   * are waived, as Ollama places a model on an empty GPU whenever it can (offloading a few layers to
   * the CPU if it must). Without this, mistral-large:123b at 4096 × 4 slots never fits 80 GB.
   */
  aloneCapacity: number;
  /** Total GPU memory (Infinity when unknown): Ollama's fit rule is relative to what is free of it. */
  total: number;
  maxModels: number;
  used: number;
  models: Map<string, PlanModel>;
  /** Loading, evicting, or already given a command this round: no further command now. */
  busy: boolean;
}

export class ClusterPlan {
  readonly workers: PlanWorker[];
  readonly facts: ModelFacts;
  readonly commands: Command[] = [];
  private readonly demandByUnit = new Map<string, ModelDemand>();
  private readonly fitFraction: number;

  constructor(
    readonly state: ClusterState,
    readonly now: number,
    opts: {
      memoryReserveFraction: number;
      loadBandwidthBytesPerSec: number;
      loadOverheadSeconds: number;
      maxModelsPerWorker?: number;
      /** Ollama's fit rule: next to loaded models, a new one must need at most this share of the free memory. */
      ollamaFitFraction?: number;
    },
  ) {
    this.fitFraction = opts.ollamaFitFraction ?? OLLAMA_FIT_FRACTION;
    this.facts = new ModelFacts(state.catalogue, state.workers, opts);
    for (const d of state.demand) this.demandByUnit.set(poolModelField(d.pool, d.model), d);
    this.workers = [...state.workers]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((snap) => {
        const models = new Map<string, PlanModel>();
        const evictingFor = new Map(snap.evicting.map((e) => [e.model, e.forModel]));
        for (const r of snap.resident) {
          const evicting = evictingFor.has(r.model);
          models.set(r.model, {
            model: r.model,
            footprint: this.facts.footprint(r.model, snap),
            busySlots: r.busySlots,
            serving: r.pulling && !evicting && !snap.degraded,
            idleResident: !r.pulling && !evicting,
            loading: false,
            evicting,
            evictingFor: evictingFor.get(r.model),
            loadedAtMs: r.loadedAtMs,
          });
        }
        if (snap.loading && !models.has(snap.loading.model)) {
          models.set(snap.loading.model, {
            model: snap.loading.model,
            footprint: this.facts.footprint(snap.loading.model, snap),
            busySlots: 0,
            serving: false,
            idleResident: false,
            loading: true,
            evicting: false,
            loadedAtMs: now,
          });
        } else if (snap.loading) {
          const m = models.get(snap.loading.model);
          if (m) m.loading = true;
        }
        // Pending evictions of models the worker no longer lists still reserve the worker.
        for (const e of snap.evicting) {
          if (!models.has(e.model)) {
            models.set(e.model, {
              model: e.model,
              footprint: 0,
              busySlots: 0,
              serving: false,
              idleResident: false,
              loading: false,
              evicting: true,
              evictingFor: e.forModel,
              loadedAtMs: 0,
            });
          }
        }
        const planned = [...models.values()].reduce((sum, m) => sum + m.footprint, 0);
        const known = snap.memoryTotalBytes > 0;
        return {
          snap,
          capacity: known ? snap.memoryTotalBytes * (1 - opts.memoryReserveFraction) : Infinity,
          aloneCapacity: known ? snap.memoryTotalBytes * (1 + RUNTIME_OVERHEAD) : Infinity,
          total: known ? snap.memoryTotalBytes : Infinity,
          maxModels: Math.min(opts.maxModelsPerWorker ?? Infinity, known ? Infinity : UNKNOWN_MEMORY_MAX_MODELS),
          used: Math.max(planned, snap.memoryUsedBytes),
          models,
          busy: snap.loading !== undefined || snap.evicting.length > 0,
        };
      });
  }

  demand(pool: string, model: string): ModelDemand | undefined {
    return this.demandByUnit.get(poolModelField(pool, model));
  }

  poolWorkers(pool: string): PlanWorker[] {
    return this.workers.filter((w) => w.snap.pool === pool);
  }

  /** Workers serving (pulling) the model in the pool. */
  servingReplicas(pool: string, model: string): number {
    return this.poolWorkers(pool).filter((w) => w.models.get(model)?.serving).length;
  }

  /** Parallel slots of the workers serving the model in the pool. */
  servingSlots(pool: string, model: string): number {
    return this.poolWorkers(pool)
      .filter((w) => w.models.get(model)?.serving)
      .reduce((sum, w) => sum + w.snap.slots, 0);
  }

  /** Workers holding the model in the pool, pulled or not, and not on its way out. */
  holders(pool: string, model: string): number {
    return this.poolWorkers(pool).filter((w) => {
      const m = w.models.get(model);
      return m !== undefined && !m.evicting && (m.serving || m.idleResident || m.loading);
    }).length;
  }

  /** A load of the model, or an eviction making room for it, is under way in the pool. */
  inProgress(pool: string, model: string): boolean {
    return this.poolWorkers(pool).some(
      (w) => w.models.get(model)?.loading || [...w.models.values()].some((m) => m.evicting && m.evictingFor === model),
    );
  }

  /** Models counted on a worker against `maxModels` (those on their way out excluded). */
  liveCount(w: PlanWorker): number {
    return [...w.models.values()].filter((m) => !m.evicting).length;
  }

  /** Whether the model fits on the worker now, without evicting anything. */
  fits(w: PlanWorker, footprint: number): boolean {
    return this.fitsAfter(w, footprint, 0, 0);
  }

  /**
   * Whether the model fits once `freedBytes` of `freedModels` models have left: alone, within the
   * GPU (margins waived); next to others, within our capacity, the model cap, and Ollama's own rule
   * (it needs at most `ollamaFitFraction` of the free memory, or Ollama evicts a model itself).
   */
  fitsAfter(w: PlanWorker, footprint: number, freedModels: number, freedBytes: number): boolean {
    const live = this.liveCount(w) - freedModels;
    const used = w.used - freedBytes;
    if (live <= 0 && used <= 0) return footprint <= w.aloneCapacity;
    return used + footprint <= w.capacity && live + 1 <= w.maxModels && footprint <= this.fitFraction * (w.total - used);
  }

  /** Whether the model could ever fit on the worker (alone). */
  couldFit(w: PlanWorker, footprint: number): boolean {
    return footprint <= w.aloneCapacity;
  }

  /** Whether the worker is connected and healthy (it may still be busy with a command). */
  reachable(w: PlanWorker): boolean {
    return w.snap.connected && !w.snap.degraded;
  }

  /** Whether the worker can take a command now. */
  available(w: PlanWorker): boolean {
    return w.snap.connected && !w.snap.degraded && !w.busy;
  }

  loadBlocked(w: PlanWorker, model: string): boolean {
    return (w.snap.loadBlockedUntil[model] ?? 0) > this.now;
  }

  load(w: PlanWorker, model: string, reason: LoadReason): void {
    const m = this.facts.model(model);
    if (!m) return;
    const existing = w.models.get(model);
    if (existing) {
      existing.loading = true;
      existing.idleResident = false;
    } else {
      const footprint = this.facts.footprint(model, w.snap);
      w.models.set(model, {
        model,
        footprint,
        busySlots: 0,
        serving: false,
        idleResident: false,
        loading: true,
        evicting: false,
        loadedAtMs: this.now,
      });
      w.used += footprint;
    }
    w.busy = true;
    this.commands.push({ kind: 'load', workerId: w.snap.id, model, numCtx: m.contextWindow, reason });
  }

  /** Evicts models to make room for `forModel`; the load follows once the worker confirms. */
  evict(w: PlanWorker, victims: PlanModel[], forModel: string, reason: LoadReason): void {
    for (const v of victims) {
      v.evicting = true;
      v.serving = false;
      v.idleResident = false;
      v.evictingFor = forModel;
      this.commands.push({ kind: 'evict', workerId: w.snap.id, model: v.model, reason, forModel });
    }
    w.busy = true;
  }
}
