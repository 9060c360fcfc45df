import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * Puts an active job back in its queue without spending an attempt (BullMQ's `moveToWait`), and
 * wakes the workers blocked on the queue. BullMQ's script pushes a job with a priority back into the
 * prioritized set without the queue's marker, so idle workers would only notice it after their
 * drain delay (5 s); every inference job has a priority, so the marker is added here.
 */
export async function requeueJob(job: Job, token: string | undefined, redis: Pick<Redis, 'zadd'>): Promise<void> {
  await job.moveToWait(token);
  await redis.zadd(`${job.queueQualifiedName}:marker`, 0, '0');
}
