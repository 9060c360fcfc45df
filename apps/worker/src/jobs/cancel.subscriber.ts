import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { cancelMessageSchema, RedisKeys } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { REDIS_COMMANDS } from '../redis/redis.tokens';
import { RunningJobs } from './running-jobs.registry';

/**
 * Listens on the cancel channel (one subscriber connection per worker). A cancel for a job running
 * here aborts its Ollama request at once, which closes the connection and frees Ollama's slot.
 */
@Injectable()
export class CancelSubscriber {
  private subscriber: Redis | undefined;
  private readonly log: Logger;

  constructor(
    @Inject(REDIS_COMMANDS) private readonly redis: Redis,
    @Inject(WORKER_CONFIG) private readonly config: Pick<WorkerConfig, 'SWITCHYARD_PREFIX'>,
    private readonly running: RunningJobs,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: CancelSubscriber.name });
  }

  async start(): Promise<void> {
    if (this.subscriber) return;
    const channel = RedisKeys.cancelChannel(this.config.SWITCHYARD_PREFIX);
    const subscriber = this.redis.duplicate();
    this.subscriber = subscriber;
    subscriber.on('error', (err: Error) => this.log.warn({ err: err.message }, 'cancel subscriber connection error'));
    subscriber.on('message', (ch: string, raw: string) => {
      if (ch !== channel) return;
      this.handle(raw);
    });
    await subscriber.subscribe(channel);
  }

  handle(raw: string): void {
    let parsed;
    try {
      parsed = cancelMessageSchema.safeParse(JSON.parse(raw));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      this.log.warn('ignoring a malformed cancel message');
      return;
    }
    const { requestId, reason } = parsed.data;
    if (this.running.cancel(requestId, reason)) this.log.info({ requestId, reason }, 'cancelling running job');
  }

  async stop(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }
}
