/**
 * `residency-aware`: the default placement policy. Each round it
 *
 *  1. serves the starving first: a model whose oldest job, plus its load time, has reached
 *     `agingForceFraction` of `maxWaitMs` is *forced*; forced models are placed oldest first and may
 *     displace a model that still has queued work (never one inside its minimum residency);
 *  2. keeps pinned models at their pinned replica count in their catalogue pool (into free memory or
 *     in place of idle models only);
 *  3. places every other model with waiting jobs and no replica, by priority
 *     `(waiting + arrivalRate × loadSeconds) × (1 + oldestWait / maxWait)`;
 *  4. adds a replica of a model that has replicas but whose oldest job has waited `replicateWaitMs`
 *     and which has at least a batch of jobs waiting (one replica at a time per model);
 *  5. last, loads a cold model that has nothing queued but bulk lines pending in the batch service
 *     (`bulkPending`: lines of running batches kept out of the queues by the batch window), most
 *     pending first — only into free memory or in place of idle models, and not while its pool is
 *     contended — so the model is there, loaded once, when the batch reaches it.
 *
 * Placing a model on a worker: into free memory when it fits (by Ollama's own rule too: beside
 * loaded models a new one may need at most `ollamaFitFraction` of the free memory), else by evicting
 * victims on one worker. The worker chosen minimises `loadSeconds + Σ victim cost` (plus small
 * penalties for a GPU busy serving, for a worker still busy with a command — we then wait for it —
 * and for putting a popular model among rarely used ones), where a victim costs its reload time ×
 * the requests it expects within `keepHorizonMs`, + 30 if it is running jobs, + 300 if jobs wait for
 * it. Who may be evicted:
 *  - never: a model loading or already leaving, loaded less than `minResidencyMs` ago, needed for a
 *    pin, or anything at all while `holdEvictions` (just after a restart);
 *  - idle models (no job for `idleAfterMs` and less than one request expected within the horizon):
 *    for any model with waiting jobs;
 *  - warm models: for a forced model, or for waiting work whose priority exceeds the requests the
 *    warm one expects within `keepHorizonMs` (if it is running jobs, only for a batch of
 *    `batchMinJobs`);
 *  - backlogged models: only for a forced model that has waited longer than they have (or, when the
 *    victim has other replicas, for a batch of a model of higher priority).
 * Victims are taken least-expected first (Belady's rule, with arrival rates as the forecast).
 *
 * Pending bulk lines (`bulkPending`) are expected demand of the bulk class, which never outranks
 * interactive work: they make a resident model warm rather than idle (so a bulk-only load never
 * displaces it, and it goes after idle models and after warm ones with the same arrival rate), and
 * add one reload to its victim cost (the batch will need it loaded once more) — but they do not
 * enter `priority` or `keepValue`, so waiting interactive work displaces such a model exactly as it
 * would a warm one with its arrival rate, and a bulk-only candidate displaces nothing but idle
 * models. Bulk therefore takes only GPU memory nobody else is asking for.
 * Models with an empty queue stay resident as long as nobody needs their memory.
 *
 * Evictions and the load they make room for are two steps: the evictions go out, the worker frees
 * the memory (in-flight jobs finish first), and the load follows in a later round; meanwhile the
 * placement counts as in progress, so it is not made twice. One command at a time per worker.
 */
import type { ClusterState, Command, LoadReason, ModelDemand, PlacementPolicy } from './cluster-state';
import { ClusterPlan, PlanModel, PlanWorker } from './cluster-plan';
import { CostModelOptions, DEFAULT_COST_MODEL, OLLAMA_FIT_FRACTION } from './cost-model';

export interface ResidencyAwareOptions extends CostModelOptions {
  /** A loaded model is not evicted before this. */
  minResidencyMs: number;
  /** The bound on any job's wait for a GPU that aging aims for. */
  maxWaitMs: number;
  /** Share of `maxWaitMs` (oldest wait + load time) at which a model is forced. */
  agingForceFraction: number;
  /** Queue wait of a model with replicas that asks for one more. */
  replicateWaitMs: number;
  /**
   * The bound on an interactive job's expected wait (queued interactive jobs × mean service time ÷
   * serving slots, + the load time when cold): a model whose expected wait exceeds it gets another
   * replica where a GPU can take it. The edge refuses requests beyond the same bound.
   */
  maxExpectedWaitMs: number;
  /** Mean service time of one job assumed before the queue's own has been measured. */
  defaultServiceMs: number;
  /** Waiting jobs that justify displacing a warm model (0 = the target worker's slots). */
  batchMinJobs: number;
  /** A model with no job seen for this long is idle: the cheapest to evict. */
  idleAfterMs: number;
  /** A warm model is worth the requests it is expected to get within this window (see keepValue). */
  keepHorizonMs: number;
  /** Share of each GPU's memory never planned for. */
  memoryReserveFraction: number;
  /** Models one worker may hold at once: Ollama's OLLAMA_MAX_LOADED_MODELS (it evicts on its own above). */
  maxModelsPerWorker: number;
  /** Ollama's fit rule: next to loaded models a new one needs at most this share of free memory. */
  ollamaFitFraction: number;
}

/**
 * The policy's defaults, and the scheduler's: the environment schema (config/scheduler.config.ts)
 * reads its `SCHEDULER_*` defaults from here, so what runs and what a test or benchmark builds with
 * `new ResidencyAwarePolicy()` are the same figures. `maxExpectedWaitMs` equals libs/config's
 * `DEFAULT_MAX_EXPECTED_WAIT_MS` (the edge's admission bound; the policy imports no values, so
 * scheduler.config.spec checks the two agree).
 */
export const DEFAULT_RESIDENCY_AWARE_OPTIONS: ResidencyAwareOptions = {
  ...DEFAULT_COST_MODEL,
  minResidencyMs: 5_000,
  maxWaitMs: 60_000,
  agingForceFraction: 0.5,
  replicateWaitMs: 10_000,
  maxExpectedWaitMs: 60_000,
  defaultServiceMs: 4_000,
  batchMinJobs: 0,
  idleAfterMs: 10_000,
  keepHorizonMs: 10_000,
  memoryReserveFraction: 0.05,
  maxModelsPerWorker: 3,
  ollamaFitFraction: OLLAMA_FIT_FRACTION,
};

const VictimClass = { Idle: 0, Warm: 1, Backlogged: 2 } as const;
type VictimClass = (typeof VictimClass)[keyof typeof VictimClass];
const CLASS_COST: Record<VictimClass, number> = { 0: 0, 1: 30, 2: 300 };
const CHURN_SECONDS = 5;

interface Candidate {
  pool: string;
  model: string;
  reason: LoadReason;
  forced: boolean;
  demand?: ModelDemand;
  /** Only pending bulk lines, nothing queued: may take free memory or idle models only. */
  bulk?: boolean;
}

interface Option {
  worker: PlanWorker;
  victims: PlanModel[];
  cost: number;
  leftover: number;
}

export class ResidencyAwarePolicy implements PlacementPolicy {
  readonly name = 'residency-aware';
  readonly opts: ResidencyAwareOptions;
  /** Pools contended in the current round (see decide). */
  private contended = new Set<string>();
  /** Longest wait of a model with no GPU, per pool, in the current round. */
  private coldWaitMs = new Map<string, number>();

  constructor(opts: Partial<ResidencyAwareOptions> = {}) {
    this.opts = { ...DEFAULT_RESIDENCY_AWARE_OPTIONS, ...opts };
  }

  decide(state: ClusterState, now: number): Command[] {
    const plan = new ClusterPlan(state, now, this.opts);
    const pools = new Set(state.workers.map((w) => w.pool));

    const demanded = state.demand
      .filter((d) => d.waiting > 0 && pools.has(d.pool) && plan.facts.model(d.model))
      .map((d) => ({ d, forced: this.isForced(plan, d), priority: this.priority(plan, d) }));
    // Per pool, from the models waiting with no GPU serving them: contended when one of them has
    // waited half the bound (the GPUs cannot serve every cold model as it comes, so a load must
    // serve a batch or a starving model to displace anything), and the longest of their waits (a
    // popular model evicted now would make its own next requests wait about that long).
    this.contended = new Set();
    this.coldWaitMs = new Map();
    for (const { d, forced } of demanded) {
      if (plan.servingReplicas(d.pool, d.model) > 0) continue;
      if (forced) this.contended.add(d.pool);
      this.coldWaitMs.set(d.pool, Math.max(this.coldWaitMs.get(d.pool) ?? 0, d.oldestWaitMs));
    }
    const forced = demanded.filter((x) => x.forced).sort((a, b) => b.d.oldestWaitMs - a.d.oldestWaitMs);
    const rest = demanded.filter((x) => !x.forced).sort((a, b) => b.priority - a.priority || b.d.oldestWaitMs - a.d.oldestWaitMs);

    for (const { d } of forced) this.placeDemand(plan, d, true);
    this.placePins(plan, pools);
    for (const { d } of rest) this.placeDemand(plan, d, false);
    // Bulk lines the batch service holds back, for models with nothing queued and no copy: last.
    const bulkOnly = state.demand
      .filter((d) => d.waiting === 0 && (d.bulkPending ?? 0) > 0 && pools.has(d.pool) && plan.facts.model(d.model))
      .sort((a, b) => (b.bulkPending ?? 0) - (a.bulkPending ?? 0) || a.model.localeCompare(b.model));
    for (const d of bulkOnly) {
      if (plan.inProgress(d.pool, d.model) || plan.servingReplicas(d.pool, d.model) > 0) continue;
      this.place(plan, { pool: d.pool, model: d.model, reason: 'demand', forced: false, demand: d, bulk: true });
    }
    return plan.commands;
  }

  /** Whether its oldest job, plus the load, has reached `share` of the wait bound. */
  private waited(plan: ClusterPlan, d: ModelDemand, share: number): boolean {
    return d.waiting > 0 && d.oldestWaitMs + plan.facts.loadSeconds(d.model) * 1000 >= this.opts.maxWaitMs * share;
  }

  private isForced(plan: ClusterPlan, d: ModelDemand): boolean {
    return this.waited(plan, d, this.opts.agingForceFraction);
  }

  private priority(plan: ClusterPlan, d: ModelDemand): number {
    const loadSeconds = plan.facts.loadSeconds(d.model);
    return (d.waiting + d.arrivalRate * loadSeconds) * (1 + d.oldestWaitMs / this.opts.maxWaitMs);
  }

  private placePins(plan: ClusterPlan, pools: Set<string>): void {
    for (const m of plan.state.catalogue) {
      if (m.pinned <= 0 || !pools.has(m.pool)) continue;
      if (plan.inProgress(m.pool, m.name)) continue;
      if (plan.servingReplicas(m.pool, m.name) >= m.pinned) continue;
      this.place(plan, { pool: m.pool, model: m.name, reason: 'pin', forced: false, demand: plan.demand(m.pool, m.name) });
    }
  }

  private placeDemand(plan: ClusterPlan, d: ModelDemand, forced: boolean): void {
    if (plan.inProgress(d.pool, d.model)) return;
    const replicas = plan.servingReplicas(d.pool, d.model);
    if (replicas === 0) {
      this.place(plan, { pool: d.pool, model: d.model, reason: forced ? 'aging' : 'demand', forced, demand: d });
      return;
    }
    const workers = plan.poolWorkers(d.pool);
    if (replicas >= workers.length) return;
    const slots = Math.min(...workers.map((w) => w.snap.slots));
    if (d.oldestWaitMs >= this.opts.replicateWaitMs && d.waiting >= this.batchMin(slots)) {
      this.place(plan, { pool: d.pool, model: d.model, reason: 'replicate', forced: false, demand: d });
    }
  }

  private batchMin(slots: number): number {
    return this.opts.batchMinJobs > 0 ? this.opts.batchMinJobs : Math.max(1, slots);
  }

  private place(plan: ClusterPlan, c: Candidate): void {
    const options: Option[] = [];
    for (const w of plan.poolWorkers(c.pool)) {
      // A worker busy with a load or an eviction still counts: if it is the best place, we wait
      // for it rather than displace something dearer elsewhere.
      if (!plan.reachable(w) || plan.loadBlocked(w, c.model)) continue;
      const held = w.models.get(c.model);
      if (held) {
        // Resident but not pulled: a load command only tells the worker to pull it again.
        if (held.idleResident) options.push({ worker: w, victims: [], cost: -1, leftover: w.capacity - w.used });
        continue;
      }
      const footprint = plan.facts.footprint(c.model, w.snap);
      if (!plan.couldFit(w, footprint)) continue;
      // Waiting for a busy worker costs about a second more than a free one.
      const loadCost = plan.facts.loadSeconds(c.model, w.snap) + this.contention(w) + (plan.available(w) ? 0 : 1) + this.churn(plan, w, c);
      if (plan.fits(w, footprint)) {
        options.push({ worker: w, victims: [], cost: loadCost, leftover: w.capacity - w.used - footprint });
        continue;
      }
      if (plan.state.holdEvictions) continue;
      const victims = this.chooseVictims(plan, w, footprint, c);
      if (!victims) continue;
      const cost = loadCost + victims.reduce((sum, v) => sum + this.victimCost(plan, w, v), 0);
      const freed = victims.reduce((sum, v) => sum + v.footprint, 0);
      options.push({ worker: w, victims, cost, leftover: w.capacity - w.used + freed - footprint });
    }
    if (options.length === 0) return;
    // Cheapest; on a tie the tightest fit, which keeps large holes for large models.
    options.sort((a, b) => a.cost - b.cost || a.leftover - b.leftover);
    const best = options[0];
    if (!plan.available(best.worker)) return;
    if (best.victims.length === 0) plan.load(best.worker, c.model, c.reason);
    else plan.evict(best.worker, best.victims, c.model, c.reason);
  }

  /**
   * A popular model belongs beside other popular models: on a GPU that holds only rarely used
   * models (or nothing) it would soon be evicted again when the next cold model needs the room, and
   * reloaded. Costs `CHURN_SECONDS` for a model expecting at least one request within the horizon.
   */
  private churn(plan: ClusterPlan, w: PlanWorker, c: Candidate): number {
    const rate = c.demand?.arrivalRate ?? 0;
    if (rate * (this.opts.keepHorizonMs / 1000) < 1) return 0;
    for (const m of w.models.values()) {
      if (m.evicting || m.model === c.model) continue;
      const pinned = (plan.facts.model(m.model)?.pinned ?? 0) > 0;
      if (pinned || this.keepValue(plan, w, m) >= 1) return 0;
    }
    return CHURN_SECONDS;
  }

  /** A small penalty for a GPU already busy serving other models (they would share its compute). */
  private contention(w: PlanWorker): number {
    let busy = 0;
    for (const m of w.models.values()) if (m.serving) busy += m.busySlots / Math.max(1, w.snap.slots);
    return busy;
  }

  private victimClass(plan: ClusterPlan, w: PlanWorker, v: PlanModel): VictimClass {
    const d = plan.demand(w.snap.pool, v.model);
    if (d && d.waiting > 0) return VictimClass.Backlogged;
    if (v.busySlots > 0) return VictimClass.Warm;
    // Unused for a while and not expected back soon (less than one request within the horizon).
    // A popular model between two bursts is not idle: it is the one we would reload first.
    if (d && (d.idleMs < this.opts.idleAfterMs || this.keepValue(plan, w, v) >= 1)) return VictimClass.Warm;
    // A batch still has lines for it: it will be used (bulk class), so it is not idle.
    if (d && (d.bulkPending ?? 0) > 0) return VictimClass.Warm;
    return VictimClass.Idle;
  }

  private victimCost(plan: ClusterPlan, w: PlanWorker, v: PlanModel): number {
    const cls = this.victimClass(plan, w, v);
    const reload = plan.facts.model(v.model) ? plan.facts.loadSeconds(v.model, w.snap) : 0;
    // Its reload time weighted by the requests it expects within the horizon (a popular model
    // between two bursts is dear, a tail model that has served its batch cheap), plus a penalty
    // for work it would interrupt (running jobs drain first) or strand (a backlog).
    // Pending bulk lines cost one reload more: their batch needs the model loaded once.
    const bulk = (plan.demand(w.snap.pool, v.model)?.bulkPending ?? 0) > 0 ? 1 : 0;
    const expected = Math.max(0.1, this.keepValue(plan, w, v)) + bulk;
    return (cls === VictimClass.Backlogged ? CLASS_COST[cls] : 0) + (v.busySlots > 0 ? CLASS_COST[VictimClass.Warm] : 0) + expected * reload;
  }

  /** Whether `v` on `w` may be evicted to make room for candidate `c`. */
  private evictable(plan: ClusterPlan, w: PlanWorker, v: PlanModel, c: Candidate): boolean {
    if (v.loading || v.evicting) return false;
    if (v.loadedAtMs > 0 && plan.now - v.loadedAtMs < this.opts.minResidencyMs) return false;
    const catalogueEntry = plan.facts.model(v.model);
    if (catalogueEntry && catalogueEntry.pinned > 0 && catalogueEntry.pool === w.snap.pool) {
      if (plan.holders(w.snap.pool, v.model) <= catalogueEntry.pinned) return false;
    }
    const cls = this.victimClass(plan, w, v);
    // Bulk lines not yet queued take only what nobody needs: idle models, in an uncontended pool.
    if (c.bulk) return cls === VictimClass.Idle && !this.contended.has(w.snap.pool);
    const batch = c.demand !== undefined && c.demand.waiting >= this.batchMin(w.snap.slots);
    // Contended: only a batch or a starving model displaces anything, so one load serves many.
    const worthALoad = c.forced || batch || !this.contended.has(w.snap.pool);
    if (cls === VictimClass.Idle) return c.reason === 'pin' || c.reason === 'replicate' || worthALoad;
    if (c.reason === 'pin' || !c.demand) return false;
    if (cls === VictimClass.Warm) {
      // For waiting work worth more than the requests the warm model expects (a model running jobs,
      // which drain first, only for a whole batch). A starving model takes any warm model only once
      // its wait reaches the whole bound; before that it waits for a GPU where less is lost.
      if (c.forced && this.waited(plan, c.demand, 1)) return true;
      const worthMore = this.priority(plan, c.demand) > this.keepValue(plan, w, v);
      return worthMore && (c.forced || (worthALoad && (v.busySlots === 0 || batch)));
    }
    // Backlogged: hysteresis keeps it unless aging demands otherwise.
    if (c.reason === 'replicate') return false;
    const dv = plan.demand(w.snap.pool, v.model);
    if (!dv) return false;
    if (this.isForced(plan, dv)) return false;
    if (v.serving && plan.servingReplicas(w.snap.pool, v.model) >= 2) {
      return (batch || c.forced) && this.priority(plan, c.demand) > this.priority(plan, dv);
    }
    return c.forced && c.demand.oldestWaitMs > dv.oldestWaitMs;
  }

  /**
   * What keeping a warm, momentarily unused model is worth, in the units of `priority`: the
   * requests it is expected to receive within `keepHorizonMs`, or within the longest current wait of
   * a cold model in its pool when that is longer (under load, evicting it costs its own requests as
   * much). A rarely used model is worth less than a single waiting request, so a cold model's
   * request need not wait for a batch or for aging.
   */
  private keepValue(plan: ClusterPlan, w: PlanWorker, v: PlanModel): number {
    const rate = plan.demand(w.snap.pool, v.model)?.arrivalRate ?? 0;
    const horizonMs = Math.max(this.opts.keepHorizonMs, this.coldWaitMs.get(w.snap.pool) ?? 0);
    return rate * (horizonMs / 1000);
  }

  /** The cheapest set of models on `w` whose eviction makes `footprint` fit, or undefined. */
  private chooseVictims(plan: ClusterPlan, w: PlanWorker, footprint: number, c: Candidate): PlanModel[] | undefined {
    const eligible = [...w.models.values()].filter((v) => this.evictable(plan, w, v, c));
    // Idle first, then warm models not running anything, then running ones, then backlogged;
    // within a class the one expected to be asked for least (Belady's rule with rates as the guess).
    const key = (v: PlanModel) => {
      const d = plan.demand(w.snap.pool, v.model);
      return { cls: this.victimClass(plan, w, v), busy: v.busySlots > 0 ? 1 : 0, rate: d?.arrivalRate ?? 0, bulk: d?.bulkPending ?? 0, idle: d?.idleMs ?? Infinity };
    };
    eligible.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return ka.cls - kb.cls || ka.busy - kb.busy || ka.rate - kb.rate || ka.bulk - kb.bulk || kb.idle - ka.idle || this.victimCost(plan, w, a) - this.victimCost(plan, w, b) || a.model.localeCompare(b.model);
    });
    const enough = (chosen: PlanModel[]) => plan.fitsAfter(w, footprint, chosen.length, chosen.reduce((sum, v) => sum + v.footprint, 0));
    const chosen: PlanModel[] = [];
    for (const v of eligible) {
      if (enough(chosen)) break;
      chosen.push(v);
    }
    if (!enough(chosen)) return undefined;
    // Drop any victim that turned out unnecessary, the dearest first (a later, bigger one may
    // have freed enough on its own).
    for (let i = chosen.length - 1; i >= 0; i--) {
      const without = chosen.filter((_, j) => j !== i);
      if (enough(without)) chosen.splice(i, 1);
    }
    return chosen;
  }
}
