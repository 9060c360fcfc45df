import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Queues } from '@switchyard/contracts';

/** The BullMQ `Queue` of each `(pool, model)`, made once on one shared connection (producers and admin work, never workers). */
export class InferenceQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly bullPrefix: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.bullPrefix = Queues.bullPrefix(prefix);
  }

  get(pool: string, model: string): Queue {
    const name = Queues.inference(pool, model);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.redis, prefix: this.bullPrefix });
      this.queues.set(name, q);
    }
    return q;
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
