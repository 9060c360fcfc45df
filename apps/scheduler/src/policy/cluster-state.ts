/**
 * The plain snapshot a placement policy decides on, and the commands it returns.
 *
 * Everything under `src/policy/` is pure TypeScript: no NestJS, no Redis, no gRPC, no clock. It
 * imports only types and pure helpers (`poolModelField`) from `@switchyard/contracts`, so a benchmark or a simulator can build a
 * `ClusterState` by hand and call `decide` (and the folder can move to a lib unchanged).
 */
import type { CatalogueModel } from '@switchyard/contracts';

export interface ResidentSnapshot {
  model: string;
  /** Memory the loaded model takes as the worker reports it (Ollama's /api/ps `size`: weights + KV cache); 0 when unknown. */
  sizeBytes: number;
  /** Jobs of this model running on the worker now. */
  busySlots: number;
  /** Whether the worker pulls the model's queue (false while it drains before an eviction). */
  pulling: boolean;
  /** Unix ms the model finished loading (0 when unknown: treated as long ago). */
  loadedAtMs: number;
}

export interface PendingEviction {
  model: string;
  /** The model this eviction makes room for, if any (its placement is then "in progress"). */
  forModel?: string;
}

export interface WorkerSnapshot {
  id: string;
  pool: string;
  /** Ollama's parallel slots per loaded model. */
  slots: number;
  /** GPU memory; 0 when the worker does not know it (then at most `UNKNOWN_MEMORY_MAX_MODELS` models). */
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  /**
   * The worker's stream is open and it has registered: it can receive commands. A worker known only
   * from the saved registry (scheduler restart) or whose stream just closed is `false`: its models
   * still count as resident, but nothing is sent to it.
   */
  connected: boolean;
  /** Ollama failed recently; the worker pulls nothing, so its models serve no one. */
  degraded: boolean;
  resident: ResidentSnapshot[];
  /** A load in progress (commanded and not answered, or reported by the worker). */
  loading?: { model: string; sinceMs: number };
  evicting: PendingEviction[];
  /** Measured load seconds per model on this worker. */
  loadSeconds: Record<string, number>;
  /** Models whose last load failed here: not loaded here again before the given unix ms. */
  loadBlockedUntil: Record<string, number>;
}

/** What waits for one `(pool, model)` queue. */
export interface ModelDemand {
  pool: string;
  model: string;
  /** Jobs waiting to be pulled (BullMQ wait + prioritized + paused), of both classes. */
  waiting: number;
  /** Of `waiting`, interactive jobs (absent: all of them). Only these make a model backlogged, forced or hot. */
  interactiveWaiting?: number;
  /** Of `waiting`, bulk jobs (absent: none): like `bulkPending`, fill for idle capacity only. */
  bulkWaiting?: number;
  /** Jobs being run by some worker. */
  active: number;
  /** Jobs waiting for a retry backoff. */
  delayed: number;
  /** Age of the oldest waiting job, ms (0 when nothing waits). */
  oldestWaitMs: number;
  /** Age of the oldest waiting interactive job, ms (absent: `oldestWaitMs`). */
  oldestInteractiveWaitMs?: number;
  /** New interactive jobs per second, smoothed (bulk arrivals excluded: they are expected demand of no weight against interactive work). */
  arrivalRate: number;
  /**
   * Mean time one job holds a slot, ms, as measured on this queue (Little's law: jobs running ÷
   * jobs finishing per second, both smoothed); absent until measured.
   */
  serviceMs?: number;
  /** Time since a job of this queue was last seen waiting, running or arriving (Infinity if never). */
  idleMs: number;
  /**
   * Bulk lines of running batches not yet in this queue (the batch service keeps only a window of
   * each batch's lines queued): work that will come, of the bulk class. 0 or absent when none.
   * The residency-aware policy loads a cold model for it only into room nobody else needs, and
   * counts it as expected demand when choosing victims, never above interactive waiting work.
   */
  bulkPending?: number;
  /**
   * Interactive requests the edge refused for their expected wait and told to come back, whose time
   * has not come (0 or absent when none): they wait at their clients, not in the queue, so a queue
   * the edge keeps within its bound by refusing would otherwise look shorter than its demand.
   */
  deferred?: number;
}

/** Interactive jobs waiting (all of `waiting` when the classes are not told apart). */
export function interactiveWaiting(d: ModelDemand): number {
  return d.interactiveWaiting ?? d.waiting;
}

/** Interactive demand waiting: jobs in the queue, and requests the edge told to come back. */
export function interactiveDemand(d: ModelDemand): number {
  return interactiveWaiting(d) + (d.deferred ?? 0);
}

/** Age of the oldest waiting interactive job, ms. */
export function oldestInteractiveWaitMs(d: ModelDemand): number {
  return d.oldestInteractiveWaitMs ?? d.oldestWaitMs;
}

/** Bulk work for the model: bulk jobs queued plus bulk lines pending in the batch service. */
export function bulkWork(d: ModelDemand): number {
  return (d.bulkWaiting ?? 0) + (d.bulkPending ?? 0);
}

/**
 * A catalogue entry as the policy reads it. `offload` (libs/config's catalogue field): a model
 * larger than any GPU of its pool is served on the largest with Ollama's CPU offload rather than
 * refused.
 */
export type PlacementModel = CatalogueModel & { offload?: boolean };

export interface ClusterState {
  workers: WorkerSnapshot[];
  demand: ModelDemand[];
  catalogue: PlacementModel[];
  /**
   * True just after the scheduler restarts, until the workers it knew have reconnected (or a grace
   * period ends): the policy must not evict anything from a partial view of the cluster.
   */
  holdEvictions: boolean;
}

export type LoadReason = 'pin' | 'demand' | 'aging' | 'replicate' | 'static';

export interface LoadCommand {
  kind: 'load';
  workerId: string;
  model: string;
  /** The catalogue's fixed context window. */
  numCtx: number;
  reason: LoadReason;
}

export interface EvictCommand {
  kind: 'evict';
  workerId: string;
  model: string;
  /** Why: the reason of the load it makes room for. */
  reason: LoadReason;
  /** The model the freed memory is for. */
  forModel?: string;
}

export type Command = LoadCommand | EvictCommand;

/** A placement policy: pure and synchronous, so it can be unit-tested and benchmarked offline. */
export interface PlacementPolicy {
  readonly name: string;
  decide(state: ClusterState, now: number): Command[];
  /** Tail rotation, as of the last `decide`: the round wait (ms) of a model outside its pool's resident set; undefined otherwise. */
  tailRoundMs?(pool: string, model: string): number | undefined;
  /** Tail rotation, as of the last `decide`: false when a first request for this tail model would wait for its round (no room for it at once). */
  takesRoomAtOnce?(pool: string, model: string): boolean;
}
