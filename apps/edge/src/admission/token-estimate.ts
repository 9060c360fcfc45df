import type { ChatCompletionRequest, OllamaChatMessage } from '@switchyard/contracts';

/**
 * Conservative token estimates for admission (context window, tokens-per-minute). They err on the
 * high side: about 3 characters a token (real tokenizers average nearer 4 for English), plus a
 * per-message overhead for the chat template. The worker's count from Ollama is the one billed.
 */
export const CHARS_PER_TOKEN = 3;
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** What one image costs in the prompt (CLIP-style projectors use 576-ish; llava's 336px tiles ~576). */
export const IMAGE_TOKENS = 576;
/** Reserved for the answer in tokens-per-minute accounting when the request sets no max_tokens. */
export const DEFAULT_COMPLETION_RESERVE = 256;

export function estimateTextTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

export function estimateChatTokens(req: Pick<ChatCompletionRequest, 'messages' | 'tools'>): number {
  let tokens = 3; // the assistant turn's header
  for (const m of req.messages) {
    tokens += MESSAGE_OVERHEAD_TOKENS;
    const content = 'content' in m ? m.content : undefined;
    if (typeof content === 'string') tokens += estimateTextTokens(content);
    else if (Array.isArray(content)) {
      for (const part of content) tokens += part.type === 'text' ? estimateTextTokens(part.text) : IMAGE_TOKENS;
    }
    if (m.role === 'assistant' && m.tool_calls) {
      for (const c of m.tool_calls) tokens += estimateTextTokens(c.function.name + c.function.arguments) + MESSAGE_OVERHEAD_TOKENS;
    }
  }
  if (req.tools?.length) tokens += estimateTextTokens(JSON.stringify(req.tools));
  return tokens;
}

/** The same estimate for a chat already translated into the worker's messages (the Ollama, Anthropic and Responses doors). */
export function estimateMessagesTokens(messages: readonly OllamaChatMessage[], tools?: readonly unknown[]): number {
  let tokens = 3; // the assistant turn's header
  for (const m of messages) {
    tokens += MESSAGE_OVERHEAD_TOKENS + estimateTextTokens(m.content) + (m.images?.length ?? 0) * IMAGE_TOKENS;
    for (const c of m.tool_calls ?? []) tokens += MESSAGE_OVERHEAD_TOKENS + estimateTextTokens(c.function.name + JSON.stringify(c.function.arguments));
  }
  if (tools?.length) tokens += estimateTextTokens(JSON.stringify(tools));
  return tokens;
}
