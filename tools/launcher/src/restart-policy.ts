/** When the launcher restarts a crashed service, and when it stops trying. */
export interface RestartPolicyOptions {
  /** Delay before the first restart; each further crash in a row doubles it. */
  backoffBaseMs: number;
  /** The delay never grows past this. */
  backoffMaxMs: number;
  /** A service that stayed up this long was healthy: its next crash starts the backoff over. */
  healthyAfterMs: number;
  /** This many crashes within `crashWindowMs` and the service is left down. */
  maxCrashes: number;
  crashWindowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  backoffBaseMs: 500,
  backoffMaxMs: 15_000,
  healthyAfterMs: 60_000,
  maxCrashes: 5,
  crashWindowMs: 120_000,
};

export type RestartDecision =
  | { restart: true; delayMs: number; /** restarts of this service since the launcher started, this one included */ restartNumber: number }
  | { restart: false; /** crashes within the window, this one included */ crashes: number };

/**
 * The restart bookkeeping of one service: exponential backoff (0.5 s, 1 s, 2 s, … capped), reset
 * once the service has stayed up for a healthy period, and a give-up rule for a crash loop.
 * Pure: the caller passes the clock, so the schedule is tested without processes.
 */
export class RestartPolicy {
  private readonly opts: RestartPolicyOptions;
  /** Crashes since the service was last healthy: the exponent of the backoff. */
  private streak = 0;
  private crashTimes: number[] = [];
  private restarts = 0;

  constructor(options: Partial<RestartPolicyOptions> = {}) {
    this.opts = { ...DEFAULT_RESTART_POLICY, ...options };
  }

  /** The service crashed at `now` after having been up for `upMs`. */
  onCrash(now: number, upMs: number): RestartDecision {
    if (upMs >= this.opts.healthyAfterMs) this.streak = 0;
    this.crashTimes = this.crashTimes.filter((t) => now - t < this.opts.crashWindowMs);
    this.crashTimes.push(now);
    if (this.crashTimes.length >= this.opts.maxCrashes) return { restart: false, crashes: this.crashTimes.length };
    const delayMs = Math.min(this.opts.backoffBaseMs * 2 ** this.streak, this.opts.backoffMaxMs);
    this.streak++;
    this.restarts++;
    return { restart: true, delayMs, restartNumber: this.restarts };
  }

  get window(): { maxCrashes: number; crashWindowMs: number } {
    return { maxCrashes: this.opts.maxCrashes, crashWindowMs: this.opts.crashWindowMs };
  }
}

/** `20` → `20 ms`, `500` → `0.5 s`, `2000` → `2 s`, `120000` → `2 min`. */
export function formatDuration(ms: number): string {
  if (ms < 100) return `${ms} ms`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Number((ms / 1000).toFixed(1))} s`;
}
