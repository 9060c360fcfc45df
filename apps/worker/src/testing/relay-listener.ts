import IORedis, { type Redis } from 'ioredis';
import { type RelayLost, type RelayRunMessage, relayMessageSchema, RedisKeys, type CancelMessage } from '@switchyard/contracts';
import { waitFor } from './wait';

/** Listens on an edge's relay channel the way the edge does, and records what arrives. */
export type Received = RelayRunMessage & { receivedAt: number };

export class RelayListener {
  readonly messages: Received[] = [];
  /** `lost` notices (published by the scheduler, not by workers). */
  readonly lost: RelayLost[] = [];

  private constructor(
    private readonly sub: Redis,
    private readonly pub: Redis,
    private readonly prefix: string,
  ) {}

  static async start(redisUrl: string, prefix: string, edgeId: string): Promise<RelayListener> {
    const sub = new IORedis(redisUrl);
    const pub = new IORedis(redisUrl);
    const listener = new RelayListener(sub, pub, prefix);
    const channel = RedisKeys.relayChannel(prefix, edgeId);
    sub.on('message', (ch: string, raw: string) => {
      if (ch !== channel) return;
      const msg = relayMessageSchema.parse(JSON.parse(raw));
      if (msg.type === 'lost') listener.lost.push(msg);
      else listener.messages.push({ ...msg, receivedAt: Date.now() });
    });
    await sub.subscribe(channel);
    return listener;
  }

  of(requestId: string): Received[] {
    return this.messages.filter((m) => m.requestId === requestId);
  }

  /** The request's `final` or `error`. */
  end(requestId: string, timeoutMs = 10_000): Promise<Received> {
    return waitFor(() => this.of(requestId).find((m) => m.type === 'final' || m.type === 'error'), timeoutMs, `the end of ${requestId}`);
  }

  first(requestId: string, type: RelayRunMessage['type'], timeoutMs = 10_000): Promise<Received> {
    return waitFor(() => this.of(requestId).find((m) => m.type === type), timeoutMs, `a ${type} of ${requestId}`);
  }

  /** Publishes a cancel as the edge does when its client goes away. */
  async cancel(requestId: string, reason = 'client disconnected'): Promise<void> {
    const msg: CancelMessage = { requestId, reason };
    await this.pub.publish(RedisKeys.cancelChannel(this.prefix), JSON.stringify(msg));
  }

  async close(): Promise<void> {
    this.sub.disconnect();
    this.pub.disconnect();
  }
}
