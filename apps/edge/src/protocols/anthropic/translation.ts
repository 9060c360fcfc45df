import type {
  AnthropicCountTokensRequest,
  AnthropicMessageParam,
  AnthropicMessagesRequest,
  OllamaChatMessage,
  OllamaOptions,
  Work,
} from '@switchyard/contracts';
import { Errors, imageData } from '@switchyard/openai';

type ChatWork = Extract<Work, { kind: 'chat' }>;
type Prompt = Pick<ChatWork, 'messages' | 'tools'>;
type UserBlock = Exclude<Extract<AnthropicMessageParam, { role: 'user' }>['content'], string>[number];
type ImageBlock = Extract<UserBlock, { type: 'image' }>;

/**
 * Anthropic Messages request → the work of an `InferenceJob` (Ollama's /api/chat): `system` first,
 * text blocks joined with newlines, base64 images → `images`, `tool_use` → the assistant's
 * `tool_calls`, each `tool_result` → a `tool` message named after the call it answers (`Error: `
 * first when `is_error`), tools → Ollama's function tools. Ollama cannot force a call: `tool_choice`
 * `any` passes the tools, `tool` only the named one, `none` none. `max_tokens` → `num_predict`,
 * `stop_sequences` → `stop`; `temperature`, `top_p`, `top_k` only when given (Ollama's defaults otherwise).
 */
export function messagesToWork(req: AnthropicMessagesRequest): ChatWork {
  const options: OllamaOptions = { num_predict: req.max_tokens };
  if (req.temperature != null) options.temperature = req.temperature;
  if (req.top_p != null) options.top_p = req.top_p;
  if (req.top_k != null) options.top_k = req.top_k;
  if (req.stop_sequences?.length) options.stop = req.stop_sequences;
  return { kind: 'chat', ...promptOf(req), options };
}

/** The messages and tools of a request (what `count_tokens` counts). */
export function promptOf(req: AnthropicCountTokensRequest): Prompt {
  const messages: OllamaChatMessage[] = [];
  const system = typeof req.system === 'string' ? req.system : req.system?.map((b) => b.text).join('\n');
  if (system) messages.push({ role: 'system', content: system });
  const toolNames = new Map<string, string>();
  req.messages.forEach((m, i) => messages.push(...toOllamaMessages(m, `messages[${i}].content`, toolNames)));
  const tools = toolsOf(req);
  return tools ? { messages, tools } : { messages };
}

function toolsOf(req: AnthropicCountTokensRequest): ChatWork['tools'] {
  const choice = req.tool_choice;
  if (!req.tools?.length || choice?.type === 'none') return undefined;
  let tools = req.tools;
  if (choice?.type === 'tool') {
    tools = tools.filter((t) => t.name === choice.name);
    if (!tools.length) throw Errors.badRequest(`tool_choice names the tool '${choice.name}', which is not in tools.`, 'tool_choice.name', 'invalid_value');
  }
  return tools.map((t) => ({
    type: 'function',
    function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.input_schema },
  }));
}

function toOllamaMessages(m: AnthropicMessageParam, param: string, toolNames: Map<string, string>): OllamaChatMessage[] {
  if (typeof m.content === 'string') return [{ role: m.role, content: m.content }];
  if (m.role === 'assistant') {
    const texts: string[] = [];
    const out: OllamaChatMessage = { role: 'assistant', content: '' };
    for (const block of m.content) {
      if (block.type === 'text') texts.push(block.text);
      else {
        toolNames.set(block.id, block.name);
        (out.tool_calls ??= []).push({ function: { name: block.name, arguments: block.input } });
      }
    }
    out.content = texts.join('\n');
    return [out];
  }
  // A user turn: tool results become `tool` messages, in order among the text and images around them.
  const out: OllamaChatMessage[] = [];
  let texts: string[] = [];
  let images: string[] = [];
  const flush = () => {
    if (!texts.length && !images.length) return;
    out.push({ role: 'user', content: texts.join('\n'), ...(images.length ? { images } : {}) });
    texts = [];
    images = [];
  };
  m.content.forEach((block, j) => {
    if (block.type === 'text') texts.push(block.text);
    else if (block.type === 'image') images.push(imageOf(block, `${param}[${j}].source`));
    else {
      flush();
      const result = toolResult(block.content, `${param}[${j}].content`);
      const name = toolNames.get(block.tool_use_id);
      out.push({
        role: 'tool',
        content: block.is_error ? `Error: ${result.text}` : result.text,
        ...(result.images.length ? { images: result.images } : {}),
        ...(name ? { tool_name: name } : {}),
      });
    }
  });
  flush();
  return out;
}

function toolResult(content: Extract<UserBlock, { type: 'tool_result' }>['content'], param: string): { text: string; images: string[] } {
  if (content === undefined || typeof content === 'string') return { text: content ?? '', images: [] };
  const texts: string[] = [];
  const images: string[] = [];
  content.forEach((b, k) => (b.type === 'text' ? texts.push(b.text) : images.push(imageOf(b, `${param}[${k}].source`))));
  return { text: texts.join('\n'), images };
}

/** Base64 image data (a `url` or `file` source is refused: the edge never fetches an image). */
function imageOf(block: ImageBlock, param: string): string {
  const source = block.source;
  if (source.type !== 'base64') {
    throw Errors.badRequest(`Only base64 image sources are supported (got a '${source.type}' source).`, param, 'invalid_image_source');
  }
  return imageData(`data:${source.media_type};base64,${source.data}`, `${param}.data`);
}
