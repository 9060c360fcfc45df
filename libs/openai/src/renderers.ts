import type {
  ChatCompletion,
  ChatCompletionChunk,
  FinishReason,
  RelayFinal,
  RelayMessage,
  TextCompletion,
  ToolCall,
  Usage,
} from '@switchyard/contracts';
import { randomId } from './response-ids';

type RelayChunk = Extract<RelayMessage, { type: 'chunk' }>;

/** Turns a job's relay messages into one OpenAI response shape, streamed or whole. */
export interface CompletionRenderer {
  /** Stream payloads for one relay chunk (none when it carries nothing a client would see). */
  chunk(msg: RelayChunk): object[];
  /** Stream payloads that end the answer: the finish chunk (and the role chunk if none was sent). */
  finish(final: RelayFinal): object[];
  usageChunk(final: RelayFinal): object;
  /** The whole response body of a non-stream request. */
  body(final: RelayFinal): object;
}

export function usageOf(final: RelayFinal): Usage {
  const { promptTokens, completionTokens } = final.usage;
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** chat.completion / chat.completion.chunk: role in the first delta, one id and `created` for all. */
export class ChatRenderer implements CompletionRenderer {
  readonly id = randomId('chatcmpl-');
  private sentRole = false;
  private text = '';
  private readonly toolCalls: ToolCall[] = [];

  constructor(
    private readonly model: string,
    private readonly created: number,
  ) {}

  private envelope(choices: ChatCompletionChunk['choices'], usage?: Usage): ChatCompletionChunk {
    const c: ChatCompletionChunk = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices };
    if (usage) c.usage = usage;
    return c;
  }

  chunk(msg: RelayChunk): object[] {
    const delta: ChatCompletionChunk['choices'][number]['delta'] = {};
    if (msg.content) {
      delta.content = msg.content;
      this.text += msg.content;
    }
    if (msg.toolCalls?.length) {
      delta.tool_calls = msg.toolCalls.map((tc) => {
        const call: ToolCall = { id: randomId('call_'), type: 'function', function: { name: tc.function.name, arguments: JSON.stringify(tc.function.arguments) } };
        this.toolCalls.push(call);
        return { index: this.toolCalls.length - 1, ...call };
      });
    }
    if (delta.content === undefined && delta.tool_calls === undefined) return [];
    if (!this.sentRole) {
      this.sentRole = true;
      return [this.envelope([{ index: 0, delta: { role: 'assistant', content: delta.content ?? null, ...(delta.tool_calls ? { tool_calls: delta.tool_calls } : {}) }, finish_reason: null, logprobs: null }])];
    }
    return [this.envelope([{ index: 0, delta, finish_reason: null, logprobs: null }])];
  }

  private finishReason(final: RelayFinal): FinishReason {
    return this.toolCalls.length > 0 && final.finishReason === 'stop' ? 'tool_calls' : final.finishReason;
  }

  finish(final: RelayFinal): object[] {
    const out: object[] = [];
    if (!this.sentRole) {
      this.sentRole = true;
      out.push(this.envelope([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]));
    }
    out.push(this.envelope([{ index: 0, delta: {}, finish_reason: this.finishReason(final), logprobs: null }]));
    return out;
  }

  usageChunk(final: RelayFinal): object {
    return this.envelope([], usageOf(final));
  }

  body(final: RelayFinal): ChatCompletion {
    const message: ChatCompletion['choices'][number]['message'] = {
      role: 'assistant',
      content: this.text === '' && this.toolCalls.length > 0 ? null : this.text,
      refusal: null,
    };
    if (this.toolCalls.length) message.tool_calls = this.toolCalls;
    return {
      id: this.id,
      object: 'chat.completion',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, message, finish_reason: this.finishReason(final), logprobs: null }],
      usage: usageOf(final),
    };
  }
}

/** text_completion, streamed or whole (the same shape either way); `echo` puts the prompt first. */
export class TextRenderer implements CompletionRenderer {
  readonly id = randomId('cmpl-');
  private text = '';
  private echoed = false;

  constructor(
    private readonly model: string,
    private readonly created: number,
    private readonly echoPrompt: string | undefined,
  ) {}

  private envelope(text: string, finishReason: FinishReason | null): TextCompletion {
    return {
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: [{ text, index: 0, logprobs: null, finish_reason: finishReason }],
    };
  }

  private takeEcho(): string {
    if (this.echoed || !this.echoPrompt) return '';
    this.echoed = true;
    return this.echoPrompt;
  }

  chunk(msg: RelayChunk): object[] {
    const text = this.takeEcho() + msg.content;
    if (!text) return [];
    this.text += text;
    return [this.envelope(text, null)];
  }

  finish(final: RelayFinal): object[] {
    const text = this.takeEcho();
    this.text += text;
    return [this.envelope(text, textFinishReason(final))];
  }

  usageChunk(final: RelayFinal): object {
    return { id: this.id, object: 'text_completion', created: this.created, model: this.model, choices: [], usage: usageOf(final) };
  }

  body(final: RelayFinal): TextCompletion {
    const text = this.text + this.takeEcho();
    return { ...this.envelope(text, textFinishReason(final)), usage: usageOf(final) };
  }
}

function textFinishReason(final: RelayFinal): FinishReason {
  return final.finishReason === 'tool_calls' ? 'stop' : final.finishReason;
}
