import { percentile } from '../stats';
import type { RequestResult } from '../replay';

/** Jain's fairness index of non-negative allocations: 1 when equal, 1/n when one gets everything. NaN for none. */
export function jainIndex(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x) && x >= 0);
  if (v.length === 0) return NaN;
  const sum = v.reduce((a, b) => a + b, 0);
  const sq = v.reduce((a, b) => a + b * b, 0);
  return sq === 0 ? 1 : (sum * sum) / (v.length * sq);
}

export interface UserFairness {
  users: number;
  /** Jain's index over the users' speed, 1 / (mean interactive TTFT), users with a served request. */
  jain: number;
  /** Jain's index over the share of each user's interactive requests served. */
  jainServed: number;
  /** Interactive TTFT p95 (s) of the worst user and of the median user (users with ≥ 5 served). */
  worstUserP95: number;
  medianUserP95: number;
  worstUser?: string;
}

export function userFairness(results: RequestResult[]): UserFairness {
  const by = new Map<string, RequestResult[]>();
  for (const r of results) if (r.priority === 'interactive') by.set(r.user, [...(by.get(r.user) ?? []), r]);
  const speeds: number[] = [];
  const served: number[] = [];
  const p95s: Array<[string, number]> = [];
  for (const [u, rs] of by) {
    const ok = rs.filter((r) => r.ok).map((r) => r.ttftMs / 1000);
    served.push(ok.length / rs.length);
    if (ok.length > 0) speeds.push(1 / Math.max(1e-3, ok.reduce((a, b) => a + b, 0) / ok.length));
    if (ok.length >= 5) p95s.push([u, percentile(ok, 95)]);
  }
  p95s.sort((a, b) => a[1] - b[1]);
  const worst = p95s[p95s.length - 1];
  return {
    users: by.size,
    jain: jainIndex(speeds),
    jainServed: jainIndex(served),
    worstUserP95: worst?.[1] ?? NaN,
    medianUserP95: p95s.length ? p95s[Math.floor((p95s.length - 1) / 2)][1] : NaN,
    ...(worst ? { worstUser: worst[0] } : {}),
  };
}

export interface RetryAfterAccuracy {
  /** Attempts refused with 429/503, of all attempts. */
  refusedAttempts: number;
  attempts: number;
  /** Requests with at least one 429/503 answer. */
  requestsRefused: number;
  /** Requests refused on every attempt. */
  requestsRefusedForGood: number;
  /** Refusals carrying a wait (Retry-After / retry-after-ms) that the client retried after. */
  retriedAfterWait: number;
  /** Of those, the retry was admitted (not 429/503 again). */
  admittedOnRetry: number;
  /** Simulated s: the wait for the first content of a retry admitted after Retry-After (p50, p95). */
  waitAfterReadmissionP50: number;
  waitAfterReadmissionP95: number;
  /**
   * When the edge tells an admitted request its expected wait: |predicted − actual| median, and the
   * signed error (actual − predicted, s) at the median and at p90 (how late the worst tenth came: the
   * median hides the few estimates far off).
   */
  expectedWaitSamples: number;
  expectedWaitAbsErrP50: number;
  expectedWaitErrP50: number;
  expectedWaitErrP90: number;
}

const refused = (status: number) => status === 429 || status === 503;

export function retryAfterAccuracy(results: RequestResult[]): RetryAfterAccuracy {
  let attempts = 0;
  let refusedAttempts = 0;
  let requestsRefused = 0;
  let requestsRefusedForGood = 0;
  let retriedAfterWait = 0;
  let admittedOnRetry = 0;
  const waits: number[] = [];
  const errs: number[] = [];
  for (const r of results) {
    const as = r.attempts;
    attempts += as.length;
    const n = as.filter((a) => refused(a.status)).length;
    refusedAttempts += n;
    if (n > 0) requestsRefused++;
    if (as.length > 0 && n === as.length) requestsRefusedForGood++;
    for (let i = 0; i < as.length; i++) {
      const a = as[i];
      if (a.expectedWaitMs !== undefined && a.ok && a.firstContentMs !== undefined) errs.push((a.firstContentMs - a.expectedWaitMs) / 1000);
      if (!refused(a.status) || a.retryAfterMs === undefined || i + 1 >= as.length) continue;
      retriedAfterWait++;
      const next = as[i + 1];
      if (!refused(next.status)) {
        admittedOnRetry++;
        if (next.ok && next.firstContentMs !== undefined) waits.push(next.firstContentMs / 1000);
      }
    }
  }
  return {
    refusedAttempts,
    attempts,
    requestsRefused,
    requestsRefusedForGood,
    retriedAfterWait,
    admittedOnRetry,
    waitAfterReadmissionP50: percentile(waits, 50),
    waitAfterReadmissionP95: percentile(waits, 95),
    expectedWaitSamples: errs.length,
    expectedWaitAbsErrP50: percentile(
      errs.map((e) => Math.abs(e)),
      50,
    ),
    expectedWaitErrP50: percentile(errs, 50),
    expectedWaitErrP90: percentile(errs, 90),
  };
}

export interface RunSummary {
  system: string;
  requests: number;
  served: number;
  interactiveRequests: number;
  interactiveServed: number;
  /** Served requests per simulated second, over max(last arrival, last served answer). */
  goodput: number;
  /** goodput / the trace's throughput bound. */
  goodputOfBound: number;
  ttftP50: number;
  ttftP95: number;
  ttftP99: number;
  /** Worst time to first token of a served interactive stream (s): its wait in queues, retries included. */
  worstWait: number;
  bulkRequests: number;
  bulkServed: number;
  bulkVia: 'none' | 'batch' | 'requests';
  /** First bulk arrival to last bulk answer (s); NaN when not every bulk request was served. */
  bulkMakespan: number;
  /** Share of requests answered 429/503 at least once; of attempts. */
  refusedShare: number;
  refusedAttemptShare: number;
  retryAfter: RetryAfterAccuracy;
  fairness: UserFairness;
  loads: number;
  loadsPer1000: number;
  /** loads / the count of distinct models (the bound for any system). */
  loadsOverBound: number;
  /** loads / Belady's MIN over the arrival order (a bound for in-order service only). */
  loadsOverInOrder: number;
  loadingShare: number;
  /** Share of the GPUs' time (gpus × span) with some model busy. */
  gpuBusyShare: number;
  /** While busy, the compute the GPUs delivered as a share of the most they give (every busy model's slots all busy, alone on its GPU). */
  batchEfficiency: number;
  spanSeconds: number;
  maxClientLagS: number;
}

export interface SummaryInput {
  system: string;
  results: RequestResult[];
  /** When the batch completed (simulated ms after the start), if bulk went as a batch. */
  batchDoneMs?: number;
  loads: number;
  loadingSecondsSim: number;
  /** The simulator's GPU compute figures; absent (results from before they existed) gives NaN. */
  gpuBusySecondsSim?: number;
  fullBatchSecondsSim?: number;
  gpus: number;
  distinctModels: number;
  inOrderLoads: number;
  maxRate: number;
  lastArrivalS: number;
  firstBulkS: number;
}

export function summarise(x: SummaryInput): RunSummary {
  const r = x.results;
  const served = r.filter((q) => q.ok);
  const endS = (q: RequestResult) => (q.viaBatch && x.batchDoneMs !== undefined ? x.batchDoneMs : q.sentMs + q.e2eMs) / 1000;
  const span = Math.max(x.lastArrivalS, ...served.map(endS));
  const interactive = r.filter((q) => q.priority === 'interactive');
  const iServed = interactive.filter((q) => q.ok);
  const ttft = iServed.map((q) => q.ttftMs / 1000);
  const bulk = r.filter((q) => q.priority === 'bulk');
  const bulkServed = bulk.filter((q) => q.ok);
  const ra = retryAfterAccuracy(r);
  const goodput = served.length / Math.max(1e-9, span);
  return {
    system: x.system,
    requests: r.length,
    served: served.length,
    interactiveRequests: interactive.length,
    interactiveServed: iServed.length,
    goodput,
    goodputOfBound: goodput / x.maxRate,
    ttftP50: percentile(ttft, 50),
    ttftP95: percentile(ttft, 95),
    ttftP99: percentile(ttft, 99),
    worstWait: iServed.filter((q) => q.stream).reduce((a, q) => Math.max(a, q.ttftMs / 1000), 0),
    bulkRequests: bulk.length,
    bulkServed: bulkServed.length,
    bulkVia: bulk.length === 0 ? 'none' : bulk.some((q) => q.viaBatch) ? 'batch' : 'requests',
    bulkMakespan: bulk.length > 0 && bulkServed.length === bulk.length ? Math.max(...bulk.map(endS)) - x.firstBulkS : NaN,
    refusedShare: r.length ? r.filter((q) => q.attempts.some((a) => refused(a.status)) || (q.viaBatch && refused(q.status))).length / r.length : 0,
    refusedAttemptShare: ra.attempts ? ra.refusedAttempts / ra.attempts : 0,
    retryAfter: ra,
    fairness: userFairness(r),
    loads: x.loads,
    loadsPer1000: (x.loads / Math.max(1, r.length)) * 1000,
    loadsOverBound: x.loads / Math.max(1, x.distinctModels),
    loadsOverInOrder: x.loads / Math.max(1, x.inOrderLoads),
    loadingShare: x.loadingSecondsSim / (x.gpus * Math.max(1e-9, span)),
    gpuBusyShare: x.gpuBusySecondsSim === undefined ? NaN : x.gpuBusySecondsSim / (x.gpus * Math.max(1e-9, span)),
    batchEfficiency: x.gpuBusySecondsSim && x.fullBatchSecondsSim !== undefined ? x.fullBatchSecondsSim / x.gpuBusySecondsSim : NaN,
    spanSeconds: span,
    maxClientLagS: Math.max(0, ...r.map((q) => q.lagMs / 1000)),
  };
}
