import { Injectable } from '@nestjs/common';
import { WorkerMetrics } from '../metrics/worker.metrics';

/**
 * Why a running job's Ollama request was aborted: its client cancelled (`cancel`), or the worker
 * shut down past its drain timeout (`shutdown`: handled like a lost worker, not like a cancel).
 */
export class CancelReason {
  constructor(
    readonly reason: string,
    readonly kind: 'cancel' | 'shutdown' = 'cancel',
  ) {}
}

/** True when the signal was aborted by `RunningJobs.abortAll` (shutdown), not by a client's cancel. */
export function abortedByShutdown(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof CancelReason && signal.reason.kind === 'shutdown';
}

export interface AbortedJob {
  requestId: string;
  model: string;
}

interface Running {
  model: string;
  controller: AbortController;
}

/** How long a cancel for a job not (yet) running here is remembered, in case the job starts afterwards. */
const EARLY_CANCEL_TTL_MS = 5 * 60_000;
const EARLY_CANCEL_MAX = 10_000;

/**
 * The jobs running on this worker now: their abort controllers (for cancellation) and the busy
 * slots per model (for status and metrics).
 */
@Injectable()
export class RunningJobs {
  private readonly running = new Map<string, Set<Running>>();
  private readonly busy = new Map<string, number>();
  private readonly earlyCancels = new Map<string, number>();

  constructor(private readonly metrics: WorkerMetrics) {}

  /** Registers a job that starts now; undefined when it was cancelled before it started. */
  start(requestId: string, model: string): AbortController | undefined {
    const cancelledAt = this.earlyCancels.get(requestId);
    if (cancelledAt !== undefined) {
      this.earlyCancels.delete(requestId);
      if (Date.now() - cancelledAt < EARLY_CANCEL_TTL_MS) return undefined;
    }
    const entry: Running = { model, controller: new AbortController() };
    let set = this.running.get(requestId);
    if (!set) this.running.set(requestId, (set = new Set()));
    set.add(entry);
    this.setBusy(model, this.busySlots(model) + 1);
    return entry.controller;
  }

  finish(requestId: string, controller: AbortController): void {
    const set = this.running.get(requestId);
    if (!set) return;
    for (const entry of set) {
      if (entry.controller !== controller) continue;
      set.delete(entry);
      this.setBusy(entry.model, Math.max(0, this.busySlots(entry.model) - 1));
    }
    if (set.size === 0) this.running.delete(requestId);
  }

  /** Aborts the job if it runs here; otherwise remembers the cancel for a while. */
  cancel(requestId: string, reason: string): boolean {
    const set = this.running.get(requestId);
    if (!set || set.size === 0) {
      this.rememberEarlyCancel(requestId);
      return false;
    }
    for (const entry of set) entry.controller.abort(new CancelReason(reason));
    return true;
  }

  /** Shutdown past the drain timeout: aborts every job still running (not already cancelled) and lists them. */
  abortAll(reason: string): AbortedJob[] {
    const aborted: AbortedJob[] = [];
    for (const [requestId, set] of this.running) {
      for (const entry of set) {
        if (entry.controller.signal.aborted) continue;
        entry.controller.abort(new CancelReason(reason, 'shutdown'));
        aborted.push({ requestId, model: entry.model });
      }
    }
    return aborted;
  }

  busySlots(model: string): number {
    return this.busy.get(model) ?? 0;
  }

  totalBusy(): number {
    let total = 0;
    for (const n of this.busy.values()) total += n;
    return total;
  }

  private setBusy(model: string, n: number): void {
    this.busy.set(model, n);
    this.metrics.busySlots.set({ model }, n);
  }

  private rememberEarlyCancel(requestId: string): void {
    const now = Date.now();
    if (this.earlyCancels.size >= EARLY_CANCEL_MAX) {
      for (const [id, at] of this.earlyCancels) {
        if (now - at >= EARLY_CANCEL_TTL_MS || this.earlyCancels.size >= EARLY_CANCEL_MAX) this.earlyCancels.delete(id);
        if (this.earlyCancels.size < EARLY_CANCEL_MAX / 2) break;
      }
    }
    this.earlyCancels.set(requestId, now);
  }
}
