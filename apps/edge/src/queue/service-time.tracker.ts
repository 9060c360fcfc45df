import { Injectable } from '@nestjs/common';

/**
 * An exponentially weighted moving average, per model, of how long a worker slot is busy with one
 * job: the wall-clock time from a run's `started` message to its `final` at this edge. Wall clock,
 * not the durations Ollama reports: load times and the scheduler's rates are wall clock too, so an
 * expected wait adds like to like (also when the simulator compresses time). Workers only pull jobs
 * of models they hold, so no load falls inside it. Feeds expected waits and Retry-After.
 */
@Injectable()
export class ServiceTimeTracker {
  static readonly ALPHA = 0.2;
  private readonly ewma = new Map<string, number>();

  observe(model: string, busyMs: number): void {
    if (!(busyMs >= 0) || !Number.isFinite(busyMs)) return;
    const prev = this.ewma.get(model);
    this.ewma.set(model, prev === undefined ? busyMs : prev + ServiceTimeTracker.ALPHA * (busyMs - prev));
  }

  /** Mean service time of one job of `model`, ms; undefined until one finished on this edge. */
  get(model: string): number | undefined {
    return this.ewma.get(model);
  }
}
