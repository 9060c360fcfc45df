/**
 * `residency-aware`: the default placement policy. Each round it
 *
 *  1. serves the starving first: a model whose oldest job, plus its load time, has reached
 *     `agingForceFraction` of `maxWaitMs` is *forced*; forced models are placed oldest first and may
 *     displace a model that still has queued work (never one inside its minimum residency);
 *  2. keeps pinned models at their pinned replica count in their catalogue pool (into free memory or
 *     in place of idle models only);
 *  3. places every other model with waiting jobs and no replica, by priority
 *     `(waiting + deferred + arrivalRate × loadSeconds) × (1 + oldestWait / maxWait)` (with fewer than a batch
 *     waiting, it displaces a resident model only once its oldest job has waited `displaceAfterMs`);
 *  4. adds a replica of a model that has replicas when its *expected wait* — its interactive demand
 *     (queued jobs, and the requests the edge refused for their expected wait and told to come back:
 *     `deferred`) × its mean service time ÷ the slots serving it — reaches `replicateAtFraction` (three
 *     quarters) of `maxExpectedWaitMs`, the bound the edge admits by: the edge refuses beyond the
 *     bound, so an admitted queue only approaches it, and the last quarter leaves time for the replica
 *     to load before requests are refused. Such a replica is *urgent*: it takes free memory, idle
 *     models and bulk fill, and once the expected wait reaches the whole bound, warm models worth less
 *     than its queue too (before that, the copies it has keep up, and the warm model it would evict —
 *     often a tail model just loaded for its round — would be loaded again). With tail rotation off, a
 *     replica is also added when the oldest job has waited `replicateWaitMs` with at least a batch
 *     waiting. One replica at a time per model;
 *  5. last, bulk work as fill: a model with no interactive job waiting but bulk jobs queued or bulk
 *     lines pending in the batch service (`bulkPending`: lines of running batches kept out of the
 *     queues by the batch window) is loaded — or, when its bulk queue alone would take longer than
 *     `maxExpectedWaitMs` to drain, given one more replica — only into free memory or in place of
 *     idle models, and not while its pool is contended, most bulk work first.
 *
 * Tail rotation (`tailRoundWaitMs` > 0, the default): each round a pool's *resident set* is chosen
 * by arrival rate and packed, with the copies serving each model, into its GPUs with rotation room
 * held back (see residentSet). A model outside it (tail) takes only free room (and unused models not
 * expected within `tailRoundWaitMs`), however many of its jobs wait, until its oldest job plus its
 * load reaches the pool's *round wait* — the shortest, from half of `maxWaitMs` up to
 * `tailRoundWaitMs`, that the rotation room can sustain (see sustainableRoundMs); then it is forced
 * (without making its pool contended), displaces other tail models but not a round in progress,
 * and the resident set's models only after 1.5 times `tailRoundWaitMs` (or at once when its queue
 * is urgent: its expected wait at `tailUrgentFraction`, half, of `maxExpectedWaitMs`); it gets no
 * replica. One load serves a round of a rare model's requests.
 *
 * Interactive work first: only interactive jobs (`interactiveWaiting`, `oldestInteractiveWaitMs`,
 * `arrivalRate`, and `deferred` for priority and heat) make a model backlogged, forced, prioritised
 * or hot. Bulk jobs never do.
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
 *  - fill (bulk work only): for any model with interactive demand;
 *  - warm models: for a forced model, or for waiting work whose priority exceeds the requests the
 *    warm one expects within `keepHorizonMs` (if it is running jobs, only for a batch of
 *    `batchMinJobs`);
 *  - backlogged models: only for a forced model that has waited longer than they have (or, when the
 *    victim has other replicas, for a batch of a model of higher priority).
 * Victims are taken least-expected first (Belady's rule, with arrival rates as the forecast).
 *
 * Bulk work (queued bulk jobs and pending bulk lines) is demand of the bulk class, which never
 * outranks interactive work. A resident model kept busy only by bulk work (no interactive job
 * waiting, less than one interactive request expected within the horizon) is *fill*: never
 * displaced by another bulk load (so batches do not evict each other; but see below), but displaced by any
 * interactive demand that needs the room, after idle models and before warm ones; its running bulk
 * jobs finish first. Bulk work adds one reload to its victim cost (the batch will need it loaded
 * once more) but enters neither `priority` nor `keepValue`. A bulk candidate displaces nothing but
 * idle models, and fill whose batch lines are only held back while its candidate has bulk jobs queued
 * (a batch feeds one model at a time). Bulk therefore takes only GPU memory nobody else is asking for,
 * and gives it back.
 *
 * Models larger than any GPU of their pool: refused (never placed; the residency entry says not
 * servable and the edge answers 503) unless their catalogue entry allows CPU offload (`offload:
 * true`); then they are placed on the pool's largest GPU, alone, taking all of it, and Ollama runs
 * the layers that do not fit on the CPU (far slower: see tools/ollama-sim's README for the figures).
 * Models with an empty queue stay resident as long as nobody needs their memory.
 *
 * Evictions and the load they make room for are two steps: the evictions go out, the worker frees
 * the memory (in-flight jobs finish first), and the load follows in a later round; meanwhile the
 * placement counts as in progress, so it is not made twice. Once the memory is free, the model it
 * was freed for is placed before any other (for `minResidencyMs`): otherwise the next model in line
 * takes the room and the first evicts again elsewhere, a load for nothing. One command at a time
 * per worker.
 */
import type { ClusterState, Command, LoadReason, ModelDemand, PlacementPolicy } from './cluster-state';
import { bulkWork, interactiveDemand, interactiveWaiting, oldestInteractiveWaitMs } from './cluster-state';
import { poolModelField } from '@switchyard/contracts';
import { ClusterPlan, PlanModel, PlanWorker } from './cluster-plan';
import { DEFAULT_RESIDENCY_AWARE_OPTIONS, type ResidencyAwareOptions } from './residency-aware.options';

export { DEFAULT_RESIDENCY_AWARE_OPTIONS, type ResidencyAwareOptions } from './residency-aware.options';

const VictimClass = { Idle: 0, Fill: 1, Warm: 2, Backlogged: 3 } as const;
type VictimClass = (typeof VictimClass)[keyof typeof VictimClass];
/** Running jobs drain before an eviction (and the load waits for them): a penalty. */
const BUSY_COST = 30;
/** A backlog stranded by an eviction. */
const BACKLOG_COST = 300;
const CHURN_SECONDS = 5;
/** With tail rotation, a model of the resident set evicted: its requests keep coming. */
const RESIDENT_COST = 60;
/** A model held now ranks for the resident set as if asked for this many times as often. */
const RESIDENT_SET_HYSTERESIS = 2.5;
/** A tail model displaces the resident set's models (and a round in progress) once it has waited this many `tailRoundWaitMs`. */
const TAIL_DISPLACES_RESIDENT_AFTER = 1.5;
/** The most of its time a pool's rotation room is planned to be busy (see sustainableRoundMs). */
const ROTATION_UTILISATION = 0.35;
/** The round wait is searched in this many steps from its floor up to `tailRoundWaitMs`. */
const ROUND_STEPS = 12;

interface Candidate {
  pool: string;
  model: string;
  reason: LoadReason;
  forced: boolean;
  demand?: ModelDemand;
  /** Bulk work only, no interactive job waiting: may take free memory or idle models only. */
  bulk?: boolean;
  /** A copy asked for by its expected wait (`replicateAtFraction`), or a tail model's queue at `tailUrgentFraction`: may displace warm models worth less (a copy only once the expected wait reaches the whole bound). */
  urgent?: boolean;
  /** Outside its pool's resident set (tail rotation): may not displace the resident set's models before 1.5 × `tailRoundWaitMs` unless `urgent`. */
  tail?: boolean;
}

/** A GPU in the resident set's packing: memory planned to be used, model slots left. */
interface Bin {
  snap: PlanWorker['snap'];
  total: number;
  used: number;
  capacity: number;
  slots: number;
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
  /** Each pool's resident set in the current round (see residentSet); empty when rotation is off. */
  private resident = new Map<string, Set<string>>();
  /** Each pool's round wait in the current round (see roundWaitMs). */
  private rounds = new Map<string, number>();
  /** Per worker: the model its last eviction made room for, and when the eviction was last seen in progress (see roomOwners). */
  private roomFor = new Map<string, { pool: string; model: string; seenMs: number }>();
  /** The last round's plan, its decisions made (see takesRoomAtOnce). */
  private lastPlan?: ClusterPlan;

  constructor(opts: Partial<ResidencyAwareOptions> = {}) {
    this.opts = { ...DEFAULT_RESIDENCY_AWARE_OPTIONS, ...opts };
  }

  decide(state: ClusterState, now: number): Command[] {
    const plan = new ClusterPlan(state, now, this.opts);
    const pools = new Set(state.workers.map((w) => w.pool));
    this.resident = new Map([...pools].map((p) => [p, this.residentSet(plan, p)]));
    this.rounds = new Map([...pools].map((p) => [p, this.sustainableRoundMs(plan, p)]));

    const demanded = state.demand
      .filter((d) => interactiveDemand(d) > 0 && pools.has(d.pool) && plan.facts.model(d.model))
      .map((d) => ({ d, forced: this.isForced(plan, d), priority: this.priority(plan, d) }));
    // Per pool, from the models waiting with no GPU serving them: contended when one of them has
    // waited half the bound (the GPUs cannot serve every cold model as it comes, so a load must
    // serve a batch or a starving model to displace anything), and the longest of their waits (a
    // popular model evicted now would make its own next requests wait about that long).
    this.contended = new Set();
    this.coldWaitMs = new Map();
    for (const { d, forced } of demanded) {
      if (plan.servingReplicas(d.pool, d.model) > 0) continue;
      // A tail model whose round is due is rotation, not a sign that the GPUs are short.
      if (forced && !this.isTail(d)) this.contended.add(d.pool);
      this.coldWaitMs.set(d.pool, Math.max(this.coldWaitMs.get(d.pool) ?? 0, oldestInteractiveWaitMs(d)));
    }
    const oldest = (x: { d: ModelDemand }) => oldestInteractiveWaitMs(x.d);
    // A model an eviction just made room for is placed first: the room is its own, not the next
    // model's in line (which would send it to evict again elsewhere, one more load for nothing).
    const owners = this.roomOwners(plan, now);
    const owns = (x: { d: ModelDemand }) => owners.has(poolModelField(x.d.pool, x.d.model));
    const forced = demanded.filter((x) => x.forced && !owns(x)).sort((a, b) => oldest(b) - oldest(a));
    const rest = demanded.filter((x) => !x.forced && !owns(x)).sort((a, b) => b.priority - a.priority || oldest(b) - oldest(a));

    for (const x of demanded.filter(owns)) this.placeDemand(plan, x.d, x.forced);
    for (const { d } of forced) this.placeDemand(plan, d, true);
    this.placePins(plan, pools);
    for (const { d } of rest) this.placeDemand(plan, d, false);
    // Bulk work (queued bulk jobs, lines the batch service holds back) of models with no
    // interactive job waiting: last, as fill for what nobody else needs.
    const bulkOnly = state.demand
      .filter((d) => interactiveDemand(d) === 0 && bulkWork(d) > 0 && pools.has(d.pool) && plan.facts.model(d.model))
      .sort((a, b) => (b.bulkWaiting ?? 0) - (a.bulkWaiting ?? 0) || bulkWork(b) - bulkWork(a) || a.model.localeCompare(b.model));
    for (const d of bulkOnly) this.placeBulk(plan, d);
    this.lastPlan = plan;
    return plan.commands;
  }

  /**
   * The models (`pool|model`) whose room an eviction has just made: an eviction and the load it
   * makes room for are two steps (see the header), and once the worker has freed the memory nothing
   * in the cluster's state says for whom. So the policy remembers, per worker, the model its
   * eviction in progress was for, and keeps the room for it for `minResidencyMs` after the eviction
   * is done, or until it is on that worker.
   */
  private roomOwners(plan: ClusterPlan, now: number): Set<string> {
    const owners = new Set<string>();
    for (const w of plan.workers) {
      const id = w.snap.id;
      const forModel = w.snap.evicting.find((e) => e.forModel !== undefined)?.forModel;
      if (forModel !== undefined) {
        this.roomFor.set(id, { pool: w.snap.pool, model: forModel, seenMs: now });
        continue;
      }
      const room = this.roomFor.get(id);
      if (!room) continue;
      if (w.models.has(room.model) || now - room.seenMs > this.opts.minResidencyMs) this.roomFor.delete(id);
      else owners.add(poolModelField(room.pool, room.model));
    }
    const present = new Set(plan.workers.map((w) => w.snap.id));
    for (const id of this.roomFor.keys()) if (!present.has(id)) this.roomFor.delete(id);
    return owners;
  }

  /**
   * Expected wait of the next interactive job of a model, ms: its interactive demand (queued jobs and
   * deferred requests) × the mean service time ÷ the slots serving it, plus the load time when no
   * worker serves it.
   */
  expectedWaitMs(plan: ClusterPlan, d: ModelDemand, queued = interactiveDemand(d)): number {
    const slots = plan.servingSlots(d.pool, d.model);
    const loadMs = slots > 0 ? 0 : plan.facts.loadSeconds(d.model) * 1000;
    return loadMs + (queued * this.serviceMs(d)) / Math.max(1, slots || this.poolSlots(plan, d.pool));
  }

  /** A model's mean service time of one job: its queue's measured one, else `defaultServiceMs`. */
  private serviceMs(d: ModelDemand): number {
    return d.serviceMs ?? this.opts.defaultServiceMs;
  }

  /** A pool's reachable workers, and how many of them hold rotation room back (`ceil(workers × tailSlotsPerWorker)`). */
  private rotationRoom(plan: ClusterPlan, pool: string): { workers: PlanWorker[]; share: number; rotation: number } {
    const workers = plan.poolWorkers(pool).filter((w) => plan.reachable(w));
    const share = Math.min(1, this.opts.tailSlotsPerWorker);
    return { workers, share, rotation: Math.ceil(workers.length * share) };
  }

  private poolSlots(plan: ClusterPlan, pool: string): number {
    const workers = plan.poolWorkers(pool);
    return workers.length > 0 ? Math.min(...workers.map((w) => w.snap.slots)) : 1;
  }

  /** Bulk fill: a first copy, or one more when the bulk queue alone would outlast the bound. */
  private placeBulk(plan: ClusterPlan, d: ModelDemand): void {
    if (plan.inProgress(d.pool, d.model)) return;
    const replicas = plan.servingReplicas(d.pool, d.model);
    if (replicas === 0) {
      this.place(plan, { pool: d.pool, model: d.model, reason: 'demand', forced: false, demand: d, bulk: true });
      return;
    }
    if (replicas >= plan.poolWorkers(d.pool).length) return;
    if (this.expectedWaitMs(plan, d, d.bulkWaiting ?? 0) > this.opts.maxExpectedWaitMs) {
      this.place(plan, { pool: d.pool, model: d.model, reason: 'replicate', forced: false, demand: d, bulk: true });
    }
  }

  /** Whether its oldest job, plus the load, has reached `share` of the wait bound. */
  private waited(plan: ClusterPlan, d: ModelDemand, share: number): boolean {
    return interactiveWaiting(d) > 0 && oldestInteractiveWaitMs(d) + plan.facts.loadSeconds(d.model) * 1000 >= this.opts.maxWaitMs * share;
  }

  private isForced(plan: ClusterPlan, d: ModelDemand): boolean {
    if (this.isTail(d)) return this.waited(plan, d, this.roundWaitMs(d.pool) / this.opts.maxWaitMs);
    return this.waited(plan, d, this.opts.agingForceFraction);
  }

  /** A pool's round wait in the current round: see sustainableRoundMs. */
  roundWaitMs(pool: string): number {
    return this.rounds.get(pool) ?? this.opts.tailRoundWaitMs;
  }

  /**
   * The shortest round wait, between `agingForceFraction` of `maxWaitMs` (when a resident model's
   * queue is forced) and `tailRoundWaitMs`, that the pool's rotation room can sustain: each round
   * every tail model asked for within it is loaded once (a model of arrival rate λ is asked for
   * within a round R with probability 1 − e^(−λR)) and serves the round's requests (λR × its
   * service time, over its slots), and that work must keep the rotation room (one model slot on
   * `ceil(workers × tailSlotsPerWorker)` GPUs) at most ROTATION_UTILISATION busy. Where the room is
   * ample (many GPUs, few tail models) rounds are short and tail requests wait less; where it is
   * scarce they stay long, so that one load serves many requests.
   */
  private sustainableRoundMs(plan: ClusterPlan, pool: string): number {
    const max = this.opts.tailRoundWaitMs;
    if (max <= 0) return 0;
    const min = Math.min(max, this.opts.maxWaitMs * this.opts.agingForceFraction);
    const { rotation } = this.rotationRoom(plan, pool);
    if (rotation === 0) return max;
    const resident = this.resident.get(pool) ?? new Set<string>();
    const slots = this.poolSlots(plan, pool);
    const tail = this.tailDemand(plan, pool, resident);
    const busyMs = (roundMs: number) =>
      tail.reduce((sum, d) => {
        const asked = d.arrivalRate * (roundMs / 1000);
        return sum + (1 - Math.exp(-asked)) * plan.facts.loadSeconds(d.model) * 1000 + (asked * this.serviceMs(d)) / slots;
      }, 0);
    const step = (max - min) / ROUND_STEPS;
    for (let r = min; r < max; r += step) if (busyMs(r) <= ROTATION_UTILISATION * rotation * r) return Math.round(r);
    return max;
  }

  /** Demand of the pool's models outside `resident` that are asked for (the tail, given a resident set). */
  private tailDemand(plan: ClusterPlan, pool: string, resident: Set<string>): ModelDemand[] {
    return plan.state.demand.filter((d) => d.pool === pool && d.arrivalRate > 0 && !resident.has(d.model) && plan.facts.model(d.model));
  }

  /** The pool's round wait for a tail model (see PlacementPolicy), as of the last round; undefined for the resident set or with rotation off. */
  tailRoundMs(pool: string, model: string): number | undefined {
    return this.resident.has(pool) && this.isTail({ pool, model }) ? this.roundWaitMs(pool) : undefined;
  }

  /**
   * Whether a first request for a tail model would be placed at once, as of the last round (its
   * decisions made): into free room, or in place of a model nobody is expected to ask for within a
   * round. If not, that request starts the model's round (`tailRoundMs`). True for any other model.
   */
  takesRoomAtOnce(pool: string, model: string): boolean {
    const plan = this.lastPlan;
    if (!plan || !this.isTail({ pool, model }) || !plan.facts.model(model)) return true;
    const first: ModelDemand = { pool, model, waiting: 1, interactiveWaiting: 1, active: 0, delayed: 0, oldestWaitMs: 0, arrivalRate: plan.demand(pool, model)?.arrivalRate ?? 0, idleMs: 0 };
    return this.options(plan, { pool, model, reason: 'demand', forced: false, demand: first, tail: true }).length > 0;
  }

  /** A model outside its pool's resident set, when rotation is on. */
  isTail(d: { pool: string; model: string }): boolean {
    if (this.opts.tailRoundWaitMs <= 0) return false;
    return !(this.resident.get(d.pool)?.has(d.model) ?? false);
  }

  /**
   * A pool's resident set: its most requested models (interactive arrival rate; pinned models
   * first), each joining while the set still packs into its GPUs, largest first, by the same rules as
   * a placement (memory, model slots, Ollama's fit rule), each with as many copies as serve it now
   * (a replica takes a model slot and its memory like any model: a set planned without them would
   * not fit the GPUs, and its models would displace each other), with rotation room held back: on
   * `ceil(workers × tailSlotsPerWorker)` GPUs (the largest), one model slot and that share of the
   * memory. The first of them keeps more when the largest tail model asked for needs it (its
   * footprint, and by Ollama's fit rule 1/0.8 of it free beside the residents there): otherwise each
   * of that model's rounds would displace resident models, each reloaded on its next request. A model
   * that does not pack is tail. The packing is a plan of what can stay, not where each model is.
   */
  residentSet(plan: ClusterPlan, pool: string): Set<string> {
    if (this.opts.tailRoundWaitMs <= 0) return new Set();
    const set = this.packResident(plan, pool, 0);
    // The rotation room must take every tail model: the packing again, with room for the largest.
    const workers = this.rotationRoom(plan, pool).workers;
    const tailFootprint = Math.max(
      0,
      ...this.tailDemand(plan, pool, set)
        .map((d) => Math.max(...workers.map((w) => plan.facts.footprint(d.model, w.snap))))
        .filter((f) => workers.some((w) => plan.couldFit(w, f))),
    );
    return tailFootprint > 0 ? this.packResident(plan, pool, tailFootprint) : set;
  }

  /** The packing behind residentSet; `tailFootprint` > 0: the first held GPU keeps room for a model that large. */
  private packResident(plan: ClusterPlan, pool: string, tailFootprint: number): Set<string> {
    const set = new Set<string>();
    const { workers, share, rotation } = this.rotationRoom(plan, pool);
    if (workers.length === 0) return set;
    const bins = [...workers]
      .sort((a, b) => b.capacity - a.capacity || a.snap.id.localeCompare(b.snap.id))
      .map((w, i) => {
        const held = i < rotation;
        const total = Number.isFinite(w.total) ? w.total : Infinity;
        const capacity = Number.isFinite(w.capacity) ? w.capacity : Infinity;
        const slots = Number.isFinite(w.maxModels) ? w.maxModels : 3;
        let room = held && Number.isFinite(capacity) ? capacity * share : 0;
        // Room for the largest tail model beside the residents: its footprint, and by Ollama's fit rule.
        if (i === 0 && held && tailFootprint > 0 && Number.isFinite(total)) {
          room = Math.min(capacity, Math.max(room, tailFootprint, capacity - (total - tailFootprint / this.opts.ollamaFitFraction)));
        }
        return { snap: w.snap, total, used: room, capacity, slots: held ? slots - 1 : slots } satisfies Bin;
      });
    const pinned = (m: string) => (plan.facts.model(m)?.pinned ?? 0) > 0 && plan.facts.model(m)?.pool === pool;
    // The copies serving each model now, counted once. Hysteresis: a model held now ranks as if
    // asked for RESIDENT_SET_HYSTERESIS times as often, so two models of about the same rate do not
    // take turns (each turn a load).
    const candidates = plan.state.demand.filter((d) => d.pool === pool && plan.facts.model(d.model) && (d.arrivalRate > 0 || pinned(d.model)));
    const copiesNow = new Map(candidates.map((d) => [d.model, workers.filter((w) => w.models.get(d.model)?.serving).length]));
    const serving = (m: string) => copiesNow.get(m) ?? 0;
    const score = (d: ModelDemand) => d.arrivalRate * (serving(d.model) > 0 ? RESIDENT_SET_HYSTERESIS : 1);
    const ranked = candidates.sort((a, b) => Number(pinned(b.model)) - Number(pinned(a.model)) || score(b) - score(a) || a.model.localeCompare(b.model));
    // Each model in rank order joins if the set with it still packs. The packing places the largest
    // first, each in the bin with the most room left: placed in rank order, a large model ranked
    // below a few small ones would find every GPU already too full for it (by Ollama's fit rule
    // qwen2.5:72b, 57.7 GB with its cache, needs 72 GB free beside others), and stay tail however
    // often it is asked for.
    const size = new Map(ranked.map((d) => [d.model, Math.max(...bins.map((b) => plan.facts.footprint(d.model, b.snap)))]));
    const largestFirst = (a: string, b: string) => size.get(b)! - size.get(a)! || a.localeCompare(b);
    // A model joins with the copies that serve it now, or as many of them as still pack (at least one).
    let accepted: string[] = [];
    for (const d of ranked) {
      for (let copies = Math.max(1, serving(d.model)); copies >= 1; copies--) {
        const withIt = [...accepted, ...Array.from({ length: copies }, () => d.model)].sort(largestFirst);
        if (!this.packs(plan, bins, withIt)) continue;
        accepted = withIt;
        set.add(d.model);
        break;
      }
      if (pinned(d.model)) set.add(d.model);
    }
    return set;
  }

  /**
   * Whether `models` (a model named once per copy), in the order given, fit the bins (memory, model
   * slots, Ollama's fit rule, copies of one model on different GPUs), each where the most room is left.
   */
  private packs(plan: ClusterPlan, template: Bin[], models: string[]): boolean {
    const bins = template.map((b) => ({ ...b, held: new Set<string>() }));
    for (const m of models) {
      const fitting = bins.filter((b) => {
        const f = plan.facts.footprint(m, b.snap);
        return !b.held.has(m) && b.slots > 0 && b.used + f <= b.capacity && (b.used === 0 || f <= this.opts.ollamaFitFraction * (b.total - b.used));
      });
      if (fitting.length === 0) return false;
      const bin = fitting.reduce((best, b) => (b.capacity - b.used > best.capacity - best.used ? b : best));
      bin.used += plan.facts.footprint(m, bin.snap);
      bin.slots -= 1;
      bin.held.add(m);
    }
    return true;
  }

  private priority(plan: ClusterPlan, d: ModelDemand): number {
    const loadSeconds = plan.facts.loadSeconds(d.model);
    return (interactiveDemand(d) + d.arrivalRate * loadSeconds) * (1 + oldestInteractiveWaitMs(d) / this.opts.maxWaitMs);
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
      const tail = this.isTail(d);
      // A tail model whose queue nears the edge's admission bound may not wait for its turn.
      const urgent = tail && this.expectedWaitMs(plan, d) >= this.opts.maxExpectedWaitMs * this.opts.tailUrgentFraction;
      this.place(plan, { pool: d.pool, model: d.model, reason: forced ? 'aging' : 'demand', forced, demand: d, tail, urgent });
      return;
    }
    const workers = plan.poolWorkers(d.pool);
    if (replicas >= workers.length) return;
    // A tail model is served in rounds on one copy: a replica would be one more load for a few requests.
    if (this.isTail(d)) return;
    const slots = Math.min(...workers.map((w) => w.snap.slots));
    const hot = this.expectedWaitMs(plan, d) >= this.opts.maxExpectedWaitMs * this.opts.replicateAtFraction;
    // With tail rotation, replicas come from the expected wait alone: under overload nearly every
    // busy queue has a batch that waited `replicateWaitMs`, and a replica made for it takes room that
    // the next round reloads a model into.
    const waitedLong = this.opts.tailRoundWaitMs <= 0 && oldestInteractiveWaitMs(d) >= this.opts.replicateWaitMs && interactiveWaiting(d) >= this.batchMin(slots);
    if (hot || waitedLong) {
      this.place(plan, { pool: d.pool, model: d.model, reason: 'replicate', forced: false, demand: d, urgent: hot, tail: this.isTail(d) });
    }
  }

  private batchMin(slots: number): number {
    return this.opts.batchMinJobs > 0 ? this.opts.batchMinJobs : Math.max(1, slots);
  }

  private place(plan: ClusterPlan, c: Candidate): void {
    const options = this.options(plan, c);
    if (options.length === 0) return;
    const best = options[0];
    if (!plan.available(best.worker)) return;
    if (best.victims.length === 0) plan.load(best.worker, c.model, c.reason);
    else plan.evict(best.worker, best.victims, c.model, c.reason);
  }

  /** Where the candidate could go now, cheapest first (on a tie the tightest fit, which keeps large holes for large models); the plan is not changed. */
  private options(plan: ClusterPlan, c: Candidate): Option[] {
    const options: Option[] = [];
    const offloadTo = this.offloadWorkers(plan, c);
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
      let footprint = plan.facts.footprint(c.model, w.snap);
      if (!plan.couldFit(w, footprint)) {
        // Too large for any GPU of the pool: with CPU offload, the largest GPU, all of it.
        if (!offloadTo.has(w)) continue;
        footprint = w.aloneCapacity;
      }
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
    return options.sort((a, b) => a.cost - b.cost || a.leftover - b.leftover);
  }

  /**
   * Workers a model may be offloaded to: when its catalogue entry allows CPU offload and no GPU of
   * its pool could hold it alone, the pool's largest GPUs (the fewest layers on the CPU); else none.
   */
  private offloadWorkers(plan: ClusterPlan, c: Candidate): Set<PlanWorker> {
    if (!plan.facts.model(c.model)?.offload) return new Set();
    const workers = plan.poolWorkers(c.pool);
    if (workers.some((w) => plan.couldFit(w, plan.facts.footprint(c.model, w.snap)))) return new Set();
    const largest = Math.max(...workers.map((w) => w.total));
    return new Set(workers.filter((w) => w.total === largest && Number.isFinite(w.total)));
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
    if (d && interactiveWaiting(d) > 0) return VictimClass.Backlogged;
    // Kept busy by bulk work alone (its batch will need it, so it is not idle): fill.
    if (d && bulkWork(d) > 0 && this.keepValue(plan, w, v) < 1) return VictimClass.Fill;
    if (v.busySlots > 0) return VictimClass.Warm;
    // Unused for a while and not expected back soon (less than one request within the horizon).
    // A popular model between two bursts is not idle: it is the one we would reload first.
    if (d && (d.idleMs < this.opts.idleAfterMs || this.keepValue(plan, w, v) >= 1)) return VictimClass.Warm;
    return VictimClass.Idle;
  }

  private victimCost(plan: ClusterPlan, w: PlanWorker, v: PlanModel): number {
    const cls = this.victimClass(plan, w, v);
    const reload = plan.facts.model(v.model) ? plan.facts.loadSeconds(v.model, w.snap) : 0;
    // Its reload time weighted by the requests it expects within the horizon (a popular model
    // between two bursts is dear, a tail model that has served its batch cheap), plus a penalty
    // for work it would interrupt (running jobs drain first) or strand (a backlog).
    // Bulk work costs one reload more: its batch needs the model loaded once. Running jobs, bulk ones
    // too, drain before the load can start: a GPU where nothing must drain is preferred.
    const d = plan.demand(w.snap.pool, v.model);
    const bulk = d && bulkWork(d) > 0 ? 1 : 0;
    const expected = Math.max(0.1, this.keepValue(plan, w, v)) + bulk;
    const kept = this.resident.get(w.snap.pool)?.has(v.model) ? RESIDENT_COST : 0;
    return (cls === VictimClass.Backlogged ? BACKLOG_COST : 0) + (v.busySlots > 0 ? BUSY_COST : 0) + kept + expected * reload;
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
    // Bulk work takes only what nobody needs: idle models, in an uncontended pool. And a model whose
    // batch work is only lines the batch service holds back (none queued, none running) yields to
    // bulk jobs queued now: a batch feeds its models one at a time, so otherwise the model it feeds
    // could wait forever for room held by the ones it will feed later.
    if (c.bulk) {
      const fedNow = (c.demand?.bulkWaiting ?? 0) > 0;
      const heldBack = (plan.demand(w.snap.pool, v.model)?.bulkWaiting ?? 0) === 0 && v.busySlots === 0;
      return (cls === VictimClass.Idle || (cls === VictimClass.Fill && fedNow && heldBack)) && !this.contended.has(w.snap.pool);
    }
    const batch = c.demand !== undefined && interactiveWaiting(c.demand) >= this.batchMin(w.snap.slots);
    if (c.tail && c.demand) {
      // Tail rotation: before its round is due (its oldest job + load at the pool's round wait) a
      // tail model takes only free room, however many of its jobs wait, and the place of an unused
      // model nobody is expected to ask for within `tailRoundWaitMs` (it is in no rotation); then it
      // displaces other tail models (not one whose round is in progress), and the resident set's
      // only once it has waited 1.5 × `tailRoundWaitMs` (see below). Those two stay on the longest
      // round, not the pool's: a shorter round brings tail models back sooner, not more often in
      // place of the models that stay.
      const inRound = (plan.demand(w.snap.pool, v.model)?.arrivalRate ?? 0) * (this.opts.tailRoundWaitMs / 1000);
      const unused = v.busySlots === 0 && cls !== VictimClass.Backlogged && cls !== VictimClass.Fill && inRound < 1;
      if (!c.forced && !unused) return false;
      // The resident set's models (unless the tail model's queue is urgent: its expected wait at
      // `tailUrgentFraction` of the edge's bound, beyond which the edge starts refusing), and a
      // round in progress (it is served until its queue drains).
      const longWait = this.waited(plan, c.demand, (this.opts.tailRoundWaitMs * TAIL_DISPLACES_RESIDENT_AFTER) / this.opts.maxWaitMs);
      if (cls === VictimClass.Backlogged && !longWait) return false;
      if (this.resident.get(w.snap.pool)?.has(v.model) && !longWait && c.urgent !== true) return false;
    }
    // Bulk fill gives its GPU back to any interactive demand.
    if (cls === VictimClass.Fill) return c.reason !== 'pin' && c.demand !== undefined;
    // Contended: only a batch or a starving model displaces anything, so one load serves many.
    // Uncontended: a cold model's first requests wait `displaceAfterMs` for others to join them.
    const gathered = c.reason !== 'demand' || (c.demand !== undefined && oldestInteractiveWaitMs(c.demand) >= this.opts.displaceAfterMs);
    const worthALoad = c.forced || batch || (!this.contended.has(w.snap.pool) && gathered);
    if (cls === VictimClass.Idle) return c.reason === 'pin' || c.reason === 'replicate' || worthALoad;
    if (c.reason === 'pin' || !c.demand) return false;
    if (cls === VictimClass.Warm) {
      // For waiting work worth more than the requests the warm model expects (a model running jobs,
      // which drain first, only for a whole batch). A starving model takes any warm model only once
      // its wait reaches the whole bound; before that it waits for a GPU where less is lost.
      if (c.forced && this.waited(plan, c.demand, 1)) return true;
      // A replica takes a warm model's place only once its queue's expected wait reaches the whole
      // bound, where the edge starts refusing: before that the copies it has keep up, and the warm
      // model evicted (often a tail model just loaded for its round) would be loaded again.
      if (c.reason === 'replicate' && this.expectedWaitMs(plan, c.demand) < this.opts.maxExpectedWaitMs) return false;
      const worthMore = this.priority(plan, c.demand) > this.keepValue(plan, w, v);
      return worthMore && (c.forced || c.urgent === true || (worthALoad && (v.busySlots === 0 || batch)));
    }
    // Backlogged: hysteresis keeps it unless aging demands otherwise.
    if (c.reason === 'replicate') return false;
    const dv = plan.demand(w.snap.pool, v.model);
    if (!dv) return false;
    if (this.isForced(plan, dv)) return false;
    if (v.serving && plan.servingReplicas(w.snap.pool, v.model) >= 2) {
      return (batch || c.forced) && this.priority(plan, c.demand) > this.priority(plan, dv);
    }
    return c.forced && oldestInteractiveWaitMs(c.demand) > oldestInteractiveWaitMs(dv);
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
    // Idle first, then bulk fill, then warm models not running anything, then running ones, then backlogged;
    // within a class the one expected to be asked for least (Belady's rule with rates as the guess).
    // With tail rotation, models outside the resident set go first (but not a round in progress).
    const residentSet = this.resident.get(w.snap.pool);
    const key = (v: PlanModel) => {
      const d = plan.demand(w.snap.pool, v.model);
      const cls = this.victimClass(plan, w, v);
      const kept = cls === VictimClass.Backlogged ? 2 : residentSet?.has(v.model) ? 1 : 0;
      return { kept, cls, busy: v.busySlots > 0 ? 1 : 0, rate: d?.arrivalRate ?? 0, bulk: d ? bulkWork(d) : 0, idle: d?.idleMs ?? Infinity };
    };
    eligible.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return ka.kept - kb.kept || ka.cls - kb.cls || ka.busy - kb.busy || ka.rate - kb.rate || ka.bulk - kb.bulk || kb.idle - ka.idle || this.victimCost(plan, w, a) - this.victimCost(plan, w, b) || a.model.localeCompare(b.model);
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
