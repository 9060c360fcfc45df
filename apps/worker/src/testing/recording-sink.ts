import { type RelayRunMessage, relayMessageSchema } from '@switchyard/contracts';
import type { RelaySink } from '../relay/relay.publisher';

/** A relay sink that keeps every published message (parsed with the contract's schema). */
export class RecordingSink implements RelaySink {
  readonly published: Array<{ channel: string; message: RelayRunMessage; at: number }> = [];

  async publish(channel: string, message: string): Promise<number> {
    const parsed = relayMessageSchema.parse(JSON.parse(message));
    if (parsed.type === 'lost') throw new Error('a worker never publishes `lost`');
    this.published.push({ channel, message: parsed, at: performance.now() });
    return 1;
  }

  messages(requestId?: string): RelayRunMessage[] {
    return this.published.map((p) => p.message).filter((m) => requestId === undefined || m.requestId === requestId);
  }
}
