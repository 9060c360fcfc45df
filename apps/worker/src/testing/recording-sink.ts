import { type RelayMessage, relayMessageSchema } from '@switchyard/contracts';
import type { RelaySink } from '../relay/relay.publisher';

/** A relay sink that keeps every published message (parsed with the contract's schema). */
export class RecordingSink implements RelaySink {
  readonly published: Array<{ channel: string; message: RelayMessage; at: number }> = [];

  async publish(channel: string, message: string): Promise<number> {
    this.published.push({ channel, message: relayMessageSchema.parse(JSON.parse(message)), at: performance.now() });
    return 1;
  }

  messages(requestId?: string): RelayMessage[] {
    return this.published.map((p) => p.message).filter((m) => requestId === undefined || m.requestId === requestId);
  }
}
