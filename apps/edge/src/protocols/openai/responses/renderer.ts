import type { OllamaChatMessage, RelayFinal, ResponsesRequest } from '@switchyard/contracts';
import type { RelayChunk } from '../../../pipeline/inference-pipeline.service';
import { randomId } from '@switchyard/openai';

type Status = 'in_progress' | 'completed' | 'incomplete';

interface OutputText {
  type: 'output_text';
  text: string;
  annotations: never[];
  logprobs: never[];
}
interface MessageItem {
  id: string;
  type: 'message';
  status: Status;
  role: 'assistant';
  content: OutputText[];
}
interface FunctionCallItem {
  id: string;
  type: 'function_call';
  status: Status;
  call_id: string;
  name: string;
  arguments: string;
}
type OutputItem = MessageItem | FunctionCallItem;

/** A stream event before the stream numbers it (`sequence_number` is the protocol's). */
export interface ResponseEvent {
  type: string;
  [field: string]: unknown;
}

const outputText = (text: string): OutputText => ({ type: 'output_text', text, annotations: [], logprobs: [] });

/**
 * Turns a job's relay messages into OpenAI's Responses API: the `response` object, and for a stream
 * the events that build it — a `message` output item (item added, content part added, text
 * deltas, text done, part done, item done) and one `function_call` item per tool call (item added,
 * arguments delta and done, item done), closed by `response.completed`, or `response.incomplete`
 * (`incomplete_details.reason: "max_output_tokens"`) when the answer hit its token limit.
 */
export class ResponsesRenderer {
  readonly id = randomId('resp_');
  private readonly output: OutputItem[] = [];
  private message: { item: MessageItem; index: number; text: string } | undefined;
  private final: RelayFinal | undefined;
  private completedAt: number | null = null;

  constructor(
    private readonly req: ResponsesRequest,
    private readonly createdAt: number,
  ) {}

  /** `response.created` and `response.in_progress`, written as soon as the stream opens. */
  opening(): ResponseEvent[] {
    return [
      { type: 'response.created', response: this.response() },
      { type: 'response.in_progress', response: this.response() },
    ];
  }

  chunk(msg: RelayChunk): ResponseEvent[] {
    const events = msg.content ? this.text(msg.content) : [];
    for (const call of msg.toolCalls ?? []) events.push(...this.functionCall(call));
    return events;
  }

  finish(final: RelayFinal): ResponseEvent[] {
    this.final = final;
    const incomplete = final.finishReason === 'length';
    const events = this.output.length === 0 ? this.text('') : [];
    events.push(...this.closeMessage(incomplete ? 'incomplete' : 'completed'));
    if (!incomplete) this.completedAt = Math.floor(Date.now() / 1000);
    events.push({ type: incomplete ? 'response.incomplete' : 'response.completed', response: this.response() });
    return events;
  }

  /** The response object as it stands: in progress until `finish`, then completed or incomplete with its usage. */
  response(): object {
    const req = this.req;
    const incomplete = this.final?.finishReason === 'length';
    const status: Status = !this.final ? 'in_progress' : incomplete ? 'incomplete' : 'completed';
    return {
      id: this.id,
      object: 'response',
      created_at: this.createdAt,
      status,
      completed_at: this.completedAt,
      error: null,
      incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
      instructions: req.instructions ?? null,
      max_output_tokens: req.max_output_tokens ?? null,
      model: req.model,
      output: this.output.map(copy),
      parallel_tool_calls: req.parallel_tool_calls ?? true,
      previous_response_id: null,
      reasoning: null,
      store: false,
      temperature: req.temperature ?? 1,
      text: { format: req.text?.format ?? { type: 'text' } },
      tool_choice: req.tool_choice ?? 'auto',
      tools: (req.tools ?? []).map((t) => ({
        type: 'function',
        name: t.name,
        description: t.description ?? null,
        parameters: t.parameters ?? null,
        strict: t.strict ?? null,
      })),
      top_p: req.top_p ?? 1,
      truncation: 'disabled',
      metadata: req.metadata ?? {},
      ...(req.user !== undefined ? { user: req.user } : {}),
      ...(this.final ? { usage: usageOf(this.final) } : {}),
    };
  }

  /** Text for the open message item (opened first if none is). */
  private text(delta: string): ResponseEvent[] {
    const events: ResponseEvent[] = [];
    if (!this.message) {
      const item: MessageItem = { id: randomId('msg_'), type: 'message', status: 'in_progress', role: 'assistant', content: [] };
      this.message = { item, index: this.output.length, text: '' };
      this.output.push(item);
      events.push({ type: 'response.output_item.added', output_index: this.message.index, item: copy(item) });
      events.push({ type: 'response.content_part.added', ...this.where(), part: outputText('') });
    }
    if (delta) {
      this.message.text += delta;
      this.message.item.content = [outputText(this.message.text)];
      events.push({ type: 'response.output_text.delta', ...this.where(), delta, logprobs: [] });
    }
    return events;
  }

  private where(): { item_id: string; output_index: number; content_index: number } {
    const m = this.message;
    if (!m) throw new Error('no open message item');
    return { item_id: m.item.id, output_index: m.index, content_index: 0 };
  }

  private closeMessage(status: Status): ResponseEvent[] {
    const m = this.message;
    if (!m) return [];
    const where = this.where();
    m.item.content = [outputText(m.text)];
    m.item.status = status;
    this.message = undefined;
    return [
      { type: 'response.output_text.done', ...where, text: m.text, logprobs: [] },
      { type: 'response.content_part.done', ...where, part: outputText(m.text) },
      { type: 'response.output_item.done', output_index: m.index, item: copy(m.item) },
    ];
  }

  /** One tool call as a whole `function_call` item (Ollama gives each call complete, so one arguments delta). */
  private functionCall(call: NonNullable<OllamaChatMessage['tool_calls']>[number]): ResponseEvent[] {
    const events = this.closeMessage('completed');
    const args = JSON.stringify(call.function.arguments);
    const item: FunctionCallItem = { id: randomId('fc_'), type: 'function_call', status: 'in_progress', call_id: randomId('call_'), name: call.function.name, arguments: '' };
    const index = this.output.length;
    this.output.push(item);
    events.push({ type: 'response.output_item.added', output_index: index, item: copy(item) });
    events.push({ type: 'response.function_call_arguments.delta', item_id: item.id, output_index: index, delta: args });
    events.push({ type: 'response.function_call_arguments.done', item_id: item.id, output_index: index, name: item.name, arguments: args });
    item.arguments = args;
    item.status = 'completed';
    events.push({ type: 'response.output_item.done', output_index: index, item: copy(item) });
    return events;
  }
}

function usageOf(final: RelayFinal): object {
  const { promptTokens, completionTokens } = final.usage;
  return {
    input_tokens: promptTokens,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: promptTokens + completionTokens,
  };
}

function copy<T extends OutputItem>(item: T): T {
  return item.type === 'message' ? { ...item, content: item.content.map((c) => ({ ...c })) } : { ...item };
}
