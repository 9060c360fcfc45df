import { beladyLoads } from '../belady';
import { TraceEntry } from '../trace';

/**
 * Bounds a run is read against.
 * - Loads, any system (may reorder, batch, replicate): every model the trace asks for must be
 *   loaded at least once, so the count of distinct models is a lower bound. It is the one valid for
 *   a system that reorders freely; it is tight only when everything fits at once.
 * - Loads, in-order service only: Belady's MIN over the arrival order with the most models that fit
 *   at once — a bound for a system that serves requests in arrival order, not for one that reorders
 *   (Switchyard serves a cold model's waiting requests behind one load, so it can go below it).
 * - Throughput: the GPU-seconds the trace's work needs when every slot of a GPU is busy (the
 *   simulator runs n concurrent streams each at n^(e−1) of one stream's speed, so a request that
 *   takes s seconds alone costs s / slots^e GPU-seconds at full occupancy), loads not counted. No
 *   system completes the trace's requests faster than max(work / GPUs, last arrival).
 */

export interface ModelSpeed {
  /** One stream, tokens per simulated second. */
  genTokensPerS: number;
  promptTokensPerS: number;
}

export function distinctModelsBound(trace: Pick<TraceEntry, 'model'>[]): number {
  return new Set(trace.map((e) => e.model)).size;
}

export function inOrderLoadsBound(trace: Pick<TraceEntry, 'model'>[], capacity: number): number {
  return beladyLoads(
    trace.map((e) => e.model),
    capacity,
  );
}

/** Simulated seconds one request takes on its own (one stream). */
export function soloSeconds(e: Pick<TraceEntry, 'prompt_tokens' | 'max_tokens'>, speed: ModelSpeed): number {
  return e.prompt_tokens / speed.promptTokensPerS + e.max_tokens / speed.genTokensPerS;
}

export interface ThroughputBound {
  /** GPU-seconds of work at full slot occupancy. */
  workGpuSeconds: number;
  /** Shortest possible time to complete every request: max(work / GPUs, last arrival). */
  minMakespanS: number;
  /** Requests per simulated second: requests / minMakespanS. */
  maxRate: number;
  /** What the GPUs could sustain on this trace's mix (requests / (work / GPUs)), offered load aside. */
  capacityRate: number;
  /** The trace's offered rate (requests / last arrival). */
  offeredRate: number;
}

export function throughputBound(trace: TraceEntry[], speedOf: (model: string) => ModelSpeed, gpus: number, slots: number, parallelExponent: number): ThroughputBound {
  const occupancy = Math.pow(slots, parallelExponent);
  const work = trace.reduce((a, e) => a + soloSeconds(e, speedOf(e.model)) / occupancy, 0);
  const lastArrival = trace.reduce((a, e) => Math.max(a, e.t), 0);
  const minMakespanS = Math.max(work / gpus, lastArrival);
  return {
    workGpuSeconds: work,
    minMakespanS,
    maxRate: trace.length / Math.max(1e-9, minMakespanS),
    capacityRate: trace.length / Math.max(1e-9, work / gpus),
    offeredRate: trace.length / Math.max(1e-9, lastArrival),
  };
}
