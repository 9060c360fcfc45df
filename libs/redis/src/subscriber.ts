import type { Redis } from 'ioredis';
import { createRedisConnection, onReconnected } from './connection';

export type MessageHandler = (message: string) => void;

/**
 * A service's one pub/sub connection, shared by every channel it listens on (never a connection
 * per request). ioredis re-subscribes after a reconnect; those who may have missed messages
 * meanwhile (a relay waiting for a `final`, a cache of auth verdicts) are told through `onReconnect`.
 */
export class RedisSubscriber {
  private readonly conn: Redis;
  private readonly handlers = new Map<string, MessageHandler>();

  constructor(url: string, name: string, onError: (err: Error) => void = () => undefined) {
    this.conn = createRedisConnection(url, { name, role: 'subscriber', lazyConnect: true });
    this.conn.on('message', (channel: string, message: string) => this.handlers.get(channel)?.(message));
    this.conn.on('error', onError);
  }

  async connect(): Promise<void> {
    await this.conn.connect();
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<void> {
    this.handlers.set(channel, handler);
    await this.conn.subscribe(channel);
  }

  /** Called after each reconnect, once the channels are subscribed again. */
  onReconnect(listener: () => void): void {
    onReconnected(this.conn, listener);
  }

  close(): void {
    this.conn.disconnect();
  }
}
