import { beladyLoads } from '../belady';
import { percentile } from '../stats';
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

/**
 * A reference for the interactive p95 time to first token, not a bound: the p95 if the GPUs were
 * one server running every request at full slot occupancy (the throughput bound's GPU-seconds), in
 * arrival order, with no loads and no model slots to share: each request starts once the work sent
 * before it is done, and its first token follows its prompt at one stream's speed. Bulk requests are
 * left out (they are fill for idle capacity). A system that reorders can go under it (one that let
 * 5% of the requests wait without limit would); it says what the compute alone costs a
 * first-come-first-served cluster on the trace, so a p95 can be read against it.
 */
export function fluidFifoTtftP95(trace: TraceEntry[], speedOf: (model: string) => ModelSpeed, gpus: number, slots: number, parallelExponent: number): number {
  const rate = gpus * Math.pow(slots, parallelExponent); // one stream's seconds of work done per second
  const ttft: number[] = [];
  let backlog = 0;
  let at = 0;
  for (const e of [...trace].filter((x) => x.priority !== 'bulk').sort((a, b) => a.t - b.t)) {
    backlog = Math.max(0, backlog - (e.t - at) * rate);
    at = e.t;
    const speed = speedOf(e.model);
    ttft.push(backlog / rate + e.prompt_tokens / speed.promptTokensPerS);
    backlog += soloSeconds(e, speed);
  }
  return percentile(ttft, 95);
}
