import type { AnthropicStreamEvent } from '@switchyard/contracts';
import type { StreamProtocol } from '../../pipeline/inference-pipeline.service';
import { anthropicErrorBody } from './error-shape';
import type { MessageRenderer } from './renderer';

const sse = (events: AnthropicStreamEvent[]) => events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');

/**
 * Anthropic's SSE: `event: <type>\ndata: <json>` for `message_start` (as soon as the job is queued),
 * the content blocks' start/delta/stop, `message_delta`, `message_stop`; `ping` while the stream
 * waits. A failure after the stream started is `event: error` with the error body, and no
 * `message_stop` (the SDK throws it).
 */
export function anthropicStream(renderer: MessageRenderer): StreamProtocol {
  return {
    contentType: 'text/event-stream; charset=utf-8',
    keepAlive: 'event: ping\ndata: {"type": "ping"}\n\n',
    opening: () => sse(renderer.start()),
    chunk: (msg) => sse(renderer.chunk(msg)),
    final: (msg) => sse(renderer.finish(msg)),
    failure: (err) => sse([anthropicErrorBody(err)]),
  };
}
