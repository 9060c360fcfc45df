/**
 * The refusals this edge told to come back, by queue, until the time it gave them. A refusal's
 * `Retry-After` counts the ones still to come back as ahead of it: they will take the places that
 * free first, so a burst refused at once is spread over the rounds in which places free instead of
 * being sent back all at the same moment (where all but a few would be refused again).
 */
export class RetryPromises {
  /** Per queue: the return times still to come, ascending. */
  private readonly byQueue = new Map<string, number[]>();

  /** Refusals of `queue` told to come back after `now`. */
  outstanding(queue: string, now: number): number {
    const times = this.byQueue.get(queue);
    if (!times) return 0;
    let gone = 0;
    while (gone < times.length && times[gone] <= now) gone++;
    if (gone > 0) times.splice(0, gone);
    if (times.length === 0) this.byQueue.delete(queue);
    return times.length;
  }

  /** A refusal of `queue` was told to come back at `at` (ms). */
  add(queue: string, at: number): void {
    let times = this.byQueue.get(queue);
    if (!times) this.byQueue.set(queue, (times = []));
    let i = times.length;
    while (i > 0 && times[i - 1] > at) i--;
    times.splice(i, 0, at);
  }
}
