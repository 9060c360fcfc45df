/** The residency-aware policy's parameters and their defaults (see residency-aware.policy.ts). */
import { CostModelOptions, DEFAULT_COST_MODEL, OLLAMA_FIT_FRACTION } from './cost-model';

export interface ResidencyAwareOptions extends CostModelOptions {
  /** A loaded model is not evicted before this. */
  minResidencyMs: number;
  /** The bound on any job's wait for a GPU that aging aims for. */
  maxWaitMs: number;
  /** Share of `maxWaitMs` (oldest wait + load time) at which a model is forced. */
  agingForceFraction: number;
  /**
   * Share of `maxExpectedWaitMs` at which a model's expected wait gets it another replica (the edge
   * refuses beyond the whole bound, so an admitted queue only approaches it). Below the whole bound
   * the replica takes only free memory, idle models or bulk fill; at the bound, warm models too.
   */
  replicateAtFraction: number;
  /**
   * Share of `maxExpectedWaitMs` at which a tail model's expected wait makes it *urgent*: it may
   * displace the resident set's models without waiting for its round (see `tailRoundWaitMs`).
   */
  tailUrgentFraction: number;
  /** Queue wait of a model with replicas that asks for one more (with a batch waiting), when tail rotation is off. */
  replicateWaitMs: number;
  /**
   * The bound on an interactive job's expected wait (queued interactive jobs × mean service time ÷
   * serving slots, + the load time when cold), by which the edge refuses requests: a model whose
   * expected wait reaches `replicateAtFraction` of it gets another replica where a GPU can take it.
   */
  maxExpectedWaitMs: number;
  /** Mean service time of one job assumed before the queue's own has been measured. */
  defaultServiceMs: number;
  /**
   * A model with no GPU and fewer than a batch of jobs waiting displaces a resident model only once
   * its oldest job has waited this long (a batch, a forced model or a replica at once): the wait
   * gathers more of its requests for the one load, as a ski-rental rule. 0 = at once.
   */
  displaceAfterMs: number;
  /** Waiting jobs that justify displacing a warm model (0 = the target worker's slots). */
  batchMinJobs: number;
  /**
   * Rotation for the tail (0 = off), and its longest round wait. Each round a pool's *resident set*
   * is chosen by interactive arrival rate: the most requested models that fit, with the copies
   * serving them, its model slots and memory less the rotation room (`tailSlotsPerWorker`). A model
   * outside it (a *tail* model), however many of its jobs wait, takes only free room until its
   * oldest job plus its load time reaches the pool's round wait: the shortest, from
   * `agingForceFraction` × `maxWaitMs` up to this, that keeps the rotation room at most 35% busy
   * with the tail's loads and requests (so it is short where GPUs are many and tail models few,
   * this long where the room is scarce). Then it is forced (goes first and is served until its
   * queue drains), and it displaces other tail models, not the resident set's, until it has waited
   * 1.5 times this (or its expected wait reaches `tailUrgentFraction` of the admission bound). One
   * load then serves a round of the tail model's requests instead of one.
   */
  tailRoundWaitMs: number;
  /** Rotation room per pool, in model slots per worker (rounded up per pool): kept out of the resident set. */
  tailSlotsPerWorker: number;
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
  replicateAtFraction: 0.75,
  tailUrgentFraction: 0.5,
  replicateWaitMs: 10_000,
  maxExpectedWaitMs: 60_000,
  defaultServiceMs: 4_000,
  displaceAfterMs: 0,
  batchMinJobs: 0,
  tailRoundWaitMs: 90_000,
  tailSlotsPerWorker: 0.5,
  idleAfterMs: 10_000,
  keepHorizonMs: 10_000,
  memoryReserveFraction: 0.05,
  maxModelsPerWorker: 3,
  ollamaFitFraction: OLLAMA_FIT_FRACTION,
};
