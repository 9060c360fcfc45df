import type { AnthropicContentBlock, AnthropicMessage, AnthropicStopReason, AnthropicStreamEvent, RelayFinal } from '@switchyard/contracts';
import type { RelayChunk } from '../../pipeline/inference-pipeline.service';
import { randomId } from '@switchyard/openai';

/**
 * A job's relay messages as one Anthropic `message`, whole or as its stream events: text goes into
 * a text block (a new one after a tool call), each tool call is a `tool_use` block (`toolu_…` id,
 * its `input` object; streamed as one `input_json_delta`). An answer with no content has one empty
 * text block. `message_start` carries the edge's estimate of the input tokens; `message_delta` and
 * the whole body the worker's counts.
 */
export class MessageRenderer {
  readonly id = randomId('msg_');
  private readonly blocks: AnthropicContentBlock[] = [];
  /** The text block still open for more text, if any. */
  private openText: { index: number; block: Extract<AnthropicContentBlock, { type: 'text' }> } | undefined;

  constructor(
    private readonly model: string,
    private readonly estimatedInputTokens: number,
  ) {}

  start(): AnthropicStreamEvent[] {
    return [{ type: 'message_start', message: this.message([], null, { input_tokens: this.estimatedInputTokens, output_tokens: 0 }) }];
  }

  chunk(msg: RelayChunk): AnthropicStreamEvent[] {
    const events: AnthropicStreamEvent[] = [];
    if (msg.content) {
      if (!this.openText) {
        const block = { type: 'text' as const, text: '' };
        this.openText = { index: this.blocks.push(block) - 1, block };
        events.push({ type: 'content_block_start', index: this.openText.index, content_block: { type: 'text', text: '' } });
      }
      this.openText.block.text += msg.content;
      events.push({ type: 'content_block_delta', index: this.openText.index, delta: { type: 'text_delta', text: msg.content } });
    }
    for (const call of msg.toolCalls ?? []) {
      events.push(...this.closeText());
      const block = { type: 'tool_use' as const, id: randomId('toolu_'), name: call.function.name, input: call.function.arguments, caller: { type: 'direct' as const } };
      const index = this.blocks.push(block) - 1;
      events.push(
        { type: 'content_block_start', index, content_block: { ...block, input: {} } },
        { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } },
        { type: 'content_block_stop', index },
      );
    }
    return events;
  }

  /** The events that end the stream: the open block's stop, `message_delta` (stop reason, usage), `message_stop`. */
  finish(final: RelayFinal): AnthropicStreamEvent[] {
    const events = this.blocks.length ? this.closeText() : this.emptyText();
    events.push(
      { type: 'message_delta', delta: { stop_reason: this.stopReason(final), stop_sequence: null }, usage: usageOf(final) },
      { type: 'message_stop' },
    );
    return events;
  }

  /** The whole message of a non-stream request, after `chunk()` saw every chunk. */
  body(final: RelayFinal): AnthropicMessage {
    if (!this.blocks.length) this.emptyText();
    return this.message(this.blocks, this.stopReason(final), usageOf(final));
  }

  private message(content: AnthropicContentBlock[], stopReason: AnthropicStopReason | null, usage: AnthropicMessage['usage']): AnthropicMessage {
    return { id: this.id, type: 'message', role: 'assistant', model: this.model, content, stop_reason: stopReason, stop_sequence: null, usage };
  }

  private closeText(): AnthropicStreamEvent[] {
    if (!this.openText) return [];
    const index = this.openText.index;
    this.openText = undefined;
    return [{ type: 'content_block_stop', index }];
  }

  private emptyText(): AnthropicStreamEvent[] {
    this.blocks.push({ type: 'text', text: '' });
    return [
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_stop', index: 0 },
    ];
  }

  /** Ollama reports a stop sequence as a plain stop, so `stop_sequence` is never known: it reads as `end_turn`. */
  private stopReason(final: RelayFinal): AnthropicStopReason {
    if (this.blocks.some((b) => b.type === 'tool_use')) return 'tool_use';
    return final.finishReason === 'length' ? 'max_tokens' : 'end_turn';
  }
}

function usageOf(final: RelayFinal): AnthropicMessage['usage'] {
  return { input_tokens: final.usage.promptTokens, output_tokens: final.usage.completionTokens };
}
