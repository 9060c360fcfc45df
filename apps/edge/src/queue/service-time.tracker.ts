import { Injectable } from '@nestjs/common';
import type { UsageTimings } from '@switchyard/contracts';

/**
 * An exponentially weighted moving average, per model, of how long a worker slot is busy with one
 * job (from the timings in final messages; loading and queueing excluded). Feeds Retry-After.
 */
@Injectable()
export class ServiceTimeTracker {
  static readonly ALPHA = 0.2;
  private readonly ewma = new Map<string, number>();

  observe(model: string, usage: UsageTimings): void {
    const busy = usage.promptEvalMs + usage.evalMs > 0 ? usage.promptEvalMs + usage.evalMs : usage.totalMs - usage.queueMs - usage.loadMs;
    if (!(busy >= 0) || !Number.isFinite(busy)) return;
    const prev = this.ewma.get(model);
    this.ewma.set(model, prev === undefined ? busy : prev + ServiceTimeTracker.ALPHA * (busy - prev));
  }

  /** Mean service time of one job of `model`, ms; undefined until one finished on this edge. */
  get(model: string): number | undefined {
    return this.ewma.get(model);
  }
}
