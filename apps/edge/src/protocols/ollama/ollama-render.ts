import type { RelayFinal } from '@switchyard/contracts';
import type { OpenAIError } from '@switchyard/openai';
import type { Http, RelayChunk, StreamProtocol, WholeAnswer } from '../../pipeline/inference-pipeline.service';

type ToolCall = NonNullable<RelayChunk['toolCalls']>[number];

/** Ollama's metrics, in nanoseconds, from the worker's usage (ms). Queue time counts in the total, as waiting for a slot does in Ollama. */
export function metricsOf(final: RelayFinal) {
  const u = final.usage;
  const ns = (ms: number) => Math.round(ms * 1e6);
  return {
    total_duration: ns(u.queueMs + u.totalMs),
    load_duration: ns(u.loadMs),
    prompt_eval_count: u.promptTokens,
    prompt_eval_duration: ns(u.promptEvalMs),
    eval_count: u.completionTokens,
    eval_duration: ns(u.evalMs),
  };
}

/** Ollama's `done_reason`: `length`, else `stop` (tool calls end with `stop` too). */
export function doneReason(final: RelayFinal): 'stop' | 'length' {
  return final.finishReason === 'length' ? 'length' : 'stop';
}

const now = () => new Date().toISOString();

/**
 * `/api/chat` and `/api/generate` answers in Ollama's shapes: stream lines `{model, created_at,
 * message | response, done: false}`, a last line with `done: true`, `done_reason`, empty content and
 * the metrics; or one whole object with the text and the metrics.
 */
export class OllamaRenderer {
  private text = '';
  private readonly toolCalls: ToolCall[] = [];

  constructor(
    private readonly model: string,
    private readonly api: 'chat' | 'generate',
  ) {}

  /** The stream line for one relay chunk, or none when it carries nothing. */
  chunk(msg: RelayChunk): object | undefined {
    const toolCalls = this.api === 'chat' ? (msg.toolCalls ?? []) : [];
    this.text += msg.content;
    this.toolCalls.push(...toolCalls);
    if (!msg.content && toolCalls.length === 0) return undefined;
    return this.envelope(msg.content, toolCalls, { done: false });
  }

  /** The stream's last line. */
  last(final: RelayFinal): object {
    return this.envelope('', [], this.done(final));
  }

  /** The whole answer of a non-stream request. */
  whole(answer: WholeAnswer): object {
    for (const c of answer.chunks) this.chunk(c);
    return this.envelope(this.text, this.toolCalls, this.done(answer.final));
  }

  private done(final: RelayFinal): object {
    return this.api === 'chat'
      ? { done_reason: doneReason(final), done: true, ...metricsOf(final) }
      : { done: true, done_reason: doneReason(final), ...metricsOf(final) };
  }

  private envelope(text: string, toolCalls: ToolCall[], rest: object): object {
    if (this.api === 'generate') return { model: this.model, created_at: now(), response: text, ...rest };
    const message = { role: 'assistant', content: text, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) };
    return { model: this.model, created_at: now(), message, ...rest };
  }
}

const line = (o: object) => `${JSON.stringify(o)}\n`;

/**
 * Ollama's stream: NDJSON, one object a line, nothing while waiting (a blank line would be a parse
 * warning in ollama-js); a failure after the stream started is a last line `{"error": "..."}`.
 */
export function ndjsonStream(renderer: OllamaRenderer): StreamProtocol {
  return {
    contentType: 'application/x-ndjson',
    chunk: (msg) => {
      const o = renderer.chunk(msg);
      return o ? line(o) : '';
    },
    final: (final) => line(renderer.last(final)),
    failure: (err: OpenAIError) => line({ error: err.message }),
  };
}

/** An answer to a request that asked only to load (`messages: []`, or no prompt): the scheduler owns residency, so nothing runs. */
export function loadAnswer(model: string, api: 'chat' | 'generate', unload: boolean): object {
  const reason = unload ? 'unload' : 'load';
  return api === 'chat'
    ? { model, created_at: now(), message: { role: 'assistant', content: '' }, done_reason: reason, done: true }
    : { model, created_at: now(), response: '', done: true, done_reason: reason };
}

/** A whole JSON answer, as Ollama sends it. */
export async function sendJson(http: Http, body: object, headers: Record<string, string> = {}): Promise<void> {
  await http.reply.status(200).headers(headers).type('application/json; charset=utf-8').send(body);
}
