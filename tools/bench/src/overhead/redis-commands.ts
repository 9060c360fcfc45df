import { Redis } from 'ioredis';

/** Calls per Redis command (INFO commandstats), e.g. `{ evalsha: 1200, publish: 900 }`. */
async function commandCounts(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const counts: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts[m[1]] = Number(m[2]);
  return counts;
}

/** Counts the commands the stack's own redis-server runs between `start()` and `stop()`. */
export class RedisCommandMeter {
  private readonly redis: Redis;
  private before: Record<string, number> = {};
  private pending: Promise<void> = Promise.resolve();

  constructor(url: string) {
    this.redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  }

  start(): void {
    this.pending = commandCounts(this.redis).then((c) => void (this.before = c));
  }

  /** Commands run since `start()`, most frequent first (the meter's own INFO calls left out). */
  async stop(): Promise<Array<[string, number]>> {
    await this.pending;
    const after = await commandCounts(this.redis);
    return Object.entries(after)
      .map(([cmd, n]): [string, number] => [cmd, n - (this.before[cmd] ?? 0) - (cmd === 'info' ? 1 : 0)])
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]);
  }

  close(): void {
    this.redis.disconnect();
  }
}
