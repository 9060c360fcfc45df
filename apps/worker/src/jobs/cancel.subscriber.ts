import { Inject, Injectable } from '@nestjs/common';
import { cancelMessageSchema, RedisKeys } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { RedisSubscriber } from '@switchyard/redis';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { RunningJobs } from './running-jobs.registry';

/**
 * Listens on the cancel channel (on the worker's one subscriber connection). A cancel for a job
 * running here aborts its Ollama request at once, which closes the connection and frees Ollama's slot.
 */
@Injectable()
export class CancelSubscriber {
  private started = false;
  private readonly log: Logger;

  constructor(
    private readonly subscriber: RedisSubscriber,
    @Inject(WORKER_CONFIG) private readonly config: Pick<WorkerConfig, 'SWITCHYARD_PREFIX'>,
    private readonly running: RunningJobs,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: CancelSubscriber.name });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.subscriber.subscribe(RedisKeys.cancelChannel(this.config.SWITCHYARD_PREFIX), (raw) => this.handle(raw));
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

  /** Nothing to close: the subscriber connection is closed with the others, last. */
  async stop(): Promise<void> {
    this.started = false;
  }
}
