import type {
  ChatCompletionRequest,
  ChatMessage,
  CompletionRequest,
  OllamaChatMessage,
  OllamaOptions,
  Work,
} from '@switchyard/contracts';
import { Errors } from './openai-error';

type ChatWork = Extract<Work, { kind: 'chat' }>;
type GenerateWork = Extract<Work, { kind: 'generate' }>;
type Format = ChatWork['format'];

/**
 * OpenAI request → the work of an `InferenceJob`, as Ollama's own OpenAI layer translates it:
 * max_tokens → num_predict, temperature and top_p default to 1.0, json_object → format "json",
 * json_schema → the schema, images from data URLs → base64 in `images`, tools passed through,
 * assistant tool_calls' arguments parsed from their JSON string. `num_ctx` is never the client's.
 */
export function chatToWork(req: ChatCompletionRequest): ChatWork {
  const toolNames = new Map<string, string>();
  const messages = req.messages.map((m, i) => toOllamaMessage(m, i, toolNames));
  const work: ChatWork = { kind: 'chat', messages, options: toOptions(req, req.max_completion_tokens ?? req.max_tokens) };
  if (req.tools?.length && req.tool_choice !== 'none') work.tools = req.tools.map((t) => ({ ...t }) as Record<string, unknown>);
  const format = toFormat(req.response_format);
  if (format !== undefined) work.format = format;
  return work;
}

export function completionToWork(req: CompletionRequest): GenerateWork {
  const work: GenerateWork = { kind: 'generate', prompt: promptText(req), options: toOptions(req, req.max_tokens) };
  if (req.suffix) work.suffix = req.suffix;
  return work;
}

export function promptText(req: Pick<CompletionRequest, 'prompt'>): string {
  return typeof req.prompt === 'string' ? req.prompt : req.prompt[0];
}

export function toOptions(
  req: Pick<ChatCompletionRequest, 'temperature' | 'top_p' | 'seed' | 'stop' | 'frequency_penalty' | 'presence_penalty'>,
  maxTokens: number | null | undefined,
): OllamaOptions {
  const o: OllamaOptions = { temperature: req.temperature ?? 1.0, top_p: req.top_p ?? 1.0 };
  if (req.seed !== undefined && req.seed !== null) o.seed = req.seed;
  if (req.stop !== undefined && req.stop !== null) o.stop = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (maxTokens !== undefined && maxTokens !== null) o.num_predict = maxTokens;
  if (req.frequency_penalty !== undefined && req.frequency_penalty !== null) o.frequency_penalty = req.frequency_penalty;
  if (req.presence_penalty !== undefined && req.presence_penalty !== null) o.presence_penalty = req.presence_penalty;
  return o;
}

function toFormat(rf: ChatCompletionRequest['response_format']): Format {
  if (!rf || rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return 'json';
  return rf.json_schema.schema ?? 'json';
}

const DATA_URL = /^data:image\/[A-Za-z0-9.+-]+;base64,/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function toOllamaMessage(m: ChatMessage, i: number, toolNames: Map<string, string>): OllamaChatMessage {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textOf(m.content) };
    case 'user': {
      if (typeof m.content === 'string') return { role: 'user', content: m.content };
      const texts: string[] = [];
      const images: string[] = [];
      m.content.forEach((part, j) => {
        if (part.type === 'text') texts.push(part.text);
        else images.push(imageData(part.image_url.url, `messages[${i}].content[${j}].image_url.url`));
      });
      const out: OllamaChatMessage = { role: 'user', content: texts.join('\n') };
      if (images.length) out.images = images;
      return out;
    }
    case 'assistant': {
      const out: OllamaChatMessage = { role: 'assistant', content: m.content === null || m.content === undefined ? '' : textOf(m.content) };
      if (m.tool_calls?.length) {
        out.tool_calls = m.tool_calls.map((c, j) => {
          toolNames.set(c.id, c.function.name);
          return { function: { name: c.function.name, arguments: parseArguments(c.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`) } };
        });
      }
      return out;
    }
    case 'tool': {
      const out: OllamaChatMessage = { role: 'tool', content: textOf(m.content) };
      const name = toolNames.get(m.tool_call_id);
      if (name) out.tool_name = name;
      return out;
    }
    default: {
      const never: never = m;
      return never;
    }
  }
}

function textOf(content: string | Array<{ type: 'text'; text: string }>): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('\n');
}

/** The base64 data of an image given as a data URL (400 naming `param` otherwise: no image is ever fetched). */
export function imageData(url: string, param: string): string {
  const m = DATA_URL.exec(url);
  if (!m) {
    throw Errors.badRequest('Only images given as base64 data URLs (data:image/png;base64,...) are supported.', param, 'invalid_image_url');
  }
  const data = url.slice(m[0].length);
  if (data.length === 0 || !BASE64.test(data)) throw Errors.badRequest('The image data URL does not hold valid base64.', param, 'invalid_image_url');
  return data;
}

/** Tool call arguments (a JSON string) as the object Ollama takes (400 naming `param` when they are not one). */
export function parseArguments(json: string, param: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = json.trim() === '' ? {} : JSON.parse(json);
  } catch {
    throw Errors.badRequest('Tool call arguments must be a JSON object encoded as a string.', param, 'invalid_value');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw Errors.badRequest('Tool call arguments must be a JSON object encoded as a string.', param, 'invalid_value');
  }
  return v as Record<string, unknown>;
}
