import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { RedisKeys, relayMessageSchema } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { RedisSubscriber } from '@switchyard/redis';
import { RelayInbox } from './relay-inbox';

/**
 * Listens on this edge's relay channel (`RedisKeys.relayChannel(prefix, EDGE_ID)`) over the one
 * shared subscriber connection and hands each message to the inbox of its request id. It is
 * subscribed before the first job is enqueued, so no message can precede its listener.
 */
@Injectable()
export class RelayService implements OnModuleInit {
  private readonly inboxes = new Map<string, RelayInbox>();
  readonly channel: string;

  constructor(
    private readonly subscriber: RedisSubscriber,
    @Inject(EDGE_CONFIG) config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
  ) {
    this.channel = RedisKeys.relayChannel(config.SWITCHYARD_PREFIX, config.EDGE_ID);
  }

  async onModuleInit(): Promise<void> {
    await this.subscriber.subscribe(this.channel, (message) => this.dispatch(message));
  }

  /** Called after the subscription was re-established following a Redis reconnect (messages may have been lost). */
  onResubscribed(listener: () => void): void {
    this.subscriber.onReconnect(listener);
  }

  /** Opens the inbox of a request; open it before enqueueing the job. */
  open(requestId: string): RelayInbox {
    const inbox = new RelayInbox(requestId, (closed) => {
      if (this.inboxes.get(requestId) === closed) this.inboxes.delete(requestId);
    });
    this.inboxes.set(requestId, inbox);
    return inbox;
  }

  get openInboxes(): number {
    return this.inboxes.size;
  }

  dispatch(message: string): void {
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      this.logger.warn('unparsable relay message');
      return;
    }
    const parsed = relayMessageSchema.safeParse(json);
    if (!parsed.success) {
      this.logger.warn({ issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) }, 'invalid relay message');
      return;
    }
    // Late messages of a finished or cancelled request have no inbox and are dropped.
    this.inboxes.get(parsed.data.requestId)?.push(parsed.data);
  }
}
