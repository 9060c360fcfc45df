/** Exponential backoff with jitter: attempt 0 waits about `minMs`, doubling up to `maxMs` (50–100% of the step). */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}
