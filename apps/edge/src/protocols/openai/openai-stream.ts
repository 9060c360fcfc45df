import type { RelayFinal } from '@switchyard/contracts';
import { type OpenAIError, type CompletionRenderer } from '@switchyard/openai';
import type { RelayChunk, StreamProtocol } from '../../pipeline/inference-pipeline.service';

const event = (payload: object | string) => `data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`;

/**
 * OpenAI's SSE: `data: {chunk}` events, a usage chunk when `stream_options.include_usage`, then
 * `data: [DONE]`; a failure after the stream started is `data: {"error": {...}}` and no `[DONE]`
 * (the SDK throws it). A comment line keeps a waiting stream alive.
 */
export function openAIStream(renderer: CompletionRenderer, includeUsage: boolean): StreamProtocol {
  return {
    contentType: 'text/event-stream; charset=utf-8',
    keepAlive: ': keep-alive\n\n',
    chunk: (msg: RelayChunk) => renderer.chunk(msg).map(event).join(''),
    final: (msg: RelayFinal) => [...renderer.finish(msg), ...(includeUsage ? [renderer.usageChunk(msg)] : []), '[DONE]'].map(event).join(''),
    failure: (err: OpenAIError) => event(err.body()),
  };
}
