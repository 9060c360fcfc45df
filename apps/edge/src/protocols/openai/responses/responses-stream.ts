import type { RelayFinal } from '@switchyard/contracts';
import type { OpenAIError } from '@switchyard/openai';
import type { RelayChunk, StreamProtocol } from '../../../pipeline/inference-pipeline.service';
import type { ResponseEvent, ResponsesRenderer } from './renderer';

/**
 * The Responses API's SSE: `event: <type>` and `data: <json>` per event, every event numbered by a
 * `sequence_number` that starts at 0 and only grows. A failure after the stream opened is OpenAI's
 * streaming `error` event (`code`, `message`, `param`) and no `response.completed`. A comment line
 * keeps a waiting stream alive.
 */
export function responsesStream(renderer: ResponsesRenderer): StreamProtocol {
  let seq = 0;
  const sse = (events: ResponseEvent[]) =>
    events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number: seq++ })}\n\n`).join('');
  return {
    contentType: 'text/event-stream; charset=utf-8',
    keepAlive: ': keep-alive\n\n',
    opening: () => sse(renderer.opening()),
    chunk: (msg: RelayChunk) => sse(renderer.chunk(msg)),
    final: (msg: RelayFinal) => sse(renderer.finish(msg)),
    failure: (err: OpenAIError) => sse([{ type: 'error', code: err.code, message: err.message, param: err.param }]),
  };
}
