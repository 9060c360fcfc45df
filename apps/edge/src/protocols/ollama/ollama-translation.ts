import type { OllamaChatMessage, OllamaOptions, Work } from '@switchyard/contracts';
import { estimateMessagesTokens, estimateTextTokens, MESSAGE_OVERHEAD_TOKENS } from '../../admission/token-estimate';
import { Errors } from '@switchyard/openai';
import type { InferenceRequest } from '../../pipeline/inference-pipeline.service';
import type { OllamaChatRequest, OllamaGenerateRequest, OllamaMessageIn, OllamaRequestOptions } from './ollama-requests.schema';

type ChatWork = Extract<Work, { kind: 'chat' }>;
type GenerateWork = Extract<Work, { kind: 'generate' }>;

/**
 * Native request → the work of an `InferenceJob`. Ollama's request is nearly the worker's own, so
 * this is mostly a copy: the options a client may set pass through (no defaults are added: the
 * model's own apply, as in Ollama), `num_ctx` and `keep_alive` are dropped, and a positive
 * `num_predict` is the answer's token limit (clamped to `maxTokensCap`, never refused: Ollama never
 * refuses one).
 */
export function chatToInference(body: OllamaChatRequest & { model: string }, maxTokensCap: number): InferenceRequest {
  const messages = (body.messages ?? []).map((m, i) => toMessage(m, i));
  const work: ChatWork = { kind: 'chat', messages, options: toOptions(body.options, maxTokensCap) };
  if (body.tools?.length) work.tools = body.tools.map((t) => ({ ...t }) as Record<string, unknown>);
  if (body.format) work.format = body.format;
  const promptTokens = estimateMessages(messages) + (work.tools ? estimateTextTokens(JSON.stringify(work.tools)) : 0);
  return inference(body.model, 'chat', work, body.stream !== false, promptTokens, 'messages');
}

/**
 * `/api/generate`: `suffix` (fill-in-the-middle) and plain prompts are the worker's generate; a
 * `system` prompt or `images` make it the one-turn chat Ollama renders them as (its generate
 * handler templates `[system, user(prompt, images)]` the same way).
 */
export function generateToInference(body: OllamaGenerateRequest & { model: string; prompt: string }, maxTokensCap: number): InferenceRequest {
  const options = toOptions(body.options, maxTokensCap);
  const images = (body.images ?? []).map((img, i) => imageData(img, `images[${i}]`));
  const stream = body.stream !== false;
  if (body.suffix || body.raw) {
    if (images.length) throw Errors.badRequest('images cannot be combined with suffix or raw', 'images', 'unsupported_value');
    const work: GenerateWork = { kind: 'generate', prompt: body.prompt, options };
    if (body.suffix) work.suffix = body.suffix;
    if (body.raw) work.raw = true;
    if (body.format) work.format = body.format;
    const tokens = estimateTextTokens(body.prompt) + estimateTextTokens(body.suffix ?? '') + MESSAGE_OVERHEAD_TOKENS;
    return inference(body.model, 'completions', work, stream, tokens, 'prompt');
  }
  if (!body.system && images.length === 0) {
    const work: GenerateWork = { kind: 'generate', prompt: body.prompt, options };
    if (body.format) work.format = body.format;
    return inference(body.model, 'completions', work, stream, estimateTextTokens(body.prompt) + MESSAGE_OVERHEAD_TOKENS, 'prompt');
  }
  const messages: OllamaChatMessage[] = [];
  if (body.system) messages.push({ role: 'system', content: body.system });
  messages.push({ role: 'user', content: body.prompt, ...(images.length ? { images } : {}) });
  const work: ChatWork = { kind: 'chat', messages, options };
  if (body.format) work.format = body.format;
  return inference(body.model, 'completions', work, stream, estimateMessages(messages), 'prompt');
}

/** `/api/embed` and the legacy `/api/embeddings`: one embed job for all inputs. */
export function embedToInference(model: string, inputs: string[], dimensions: number | null | undefined, param: string): InferenceRequest {
  const emptyAt = inputs.findIndex((s) => s.length === 0);
  if (emptyAt >= 0) throw Errors.badRequest('input must not contain empty strings', `${param}[${emptyAt}]`, 'invalid_value');
  const perInput = inputs.map((s) => estimateTextTokens(s) + 2);
  return {
    model,
    endpoint: 'embeddings',
    work: { kind: 'embed', input: inputs, ...(dimensions ? { dimensions } : {}) },
    stream: false,
    contextTokens: Math.max(...perInput),
    promptTokens: perInput.reduce((a, b) => a + b, 0),
    promptParam: param,
  };
}

function inference(model: string, endpoint: 'chat' | 'completions', work: ChatWork | GenerateWork, stream: boolean, promptTokens: number, promptParam: string): InferenceRequest {
  return {
    model,
    endpoint,
    work,
    stream,
    contextTokens: promptTokens,
    promptTokens,
    ...(work.options.num_predict !== undefined ? { maxTokens: work.options.num_predict, maxTokensParam: 'options.num_predict' } : {}),
    promptParam,
  };
}

export function toOptions(o: OllamaRequestOptions | null | undefined, maxTokensCap: number): OllamaOptions {
  const out: OllamaOptions = {};
  if (!o) return out;
  if (o.temperature != null) out.temperature = o.temperature;
  if (o.top_p != null) out.top_p = o.top_p;
  if (o.top_k != null) out.top_k = o.top_k;
  if (o.seed != null) out.seed = o.seed;
  if (o.stop != null) out.stop = typeof o.stop === 'string' ? [o.stop] : o.stop;
  // -1 (no limit) and -2 (fill the context) are Ollama's defaults anyway: the window bounds the answer.
  if (o.num_predict != null && o.num_predict > 0) out.num_predict = Math.min(o.num_predict, maxTokensCap);
  if (o.frequency_penalty != null) out.frequency_penalty = o.frequency_penalty;
  if (o.presence_penalty != null) out.presence_penalty = o.presence_penalty;
  return out;
}

function toMessage(m: OllamaMessageIn, i: number): OllamaChatMessage {
  const out: OllamaChatMessage = { role: m.role, content: m.content ?? '' };
  if (m.images?.length) out.images = m.images.map((img, j) => imageData(img, `messages[${i}].images[${j}]`));
  if (m.tool_calls?.length) {
    out.tool_calls = m.tool_calls.map((c, j) => ({
      function: { name: c.function.name, arguments: toolArguments(c.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`) },
    }));
  }
  if (m.tool_name) out.tool_name = m.tool_name;
  return out;
}

function estimateMessages(messages: OllamaChatMessage[]): number {
  return estimateMessagesTokens(messages);
}

const DATA_URL = /^data:image\/[A-Za-z0-9.+-]+;base64,/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** An image as Ollama takes it: base64 (a data URL's prefix is tolerated and dropped). */
function imageData(image: string, param: string): string {
  const data = image.replace(DATA_URL, '');
  if (data.length === 0 || data.length % 4 === 1 || !BASE64.test(data)) throw Errors.badRequest('illegal base64 data in image', param, 'invalid_image');
  return data;
}

function toolArguments(args: Record<string, unknown> | string | null | undefined, param: string): Record<string, unknown> {
  if (args == null) return {};
  if (typeof args !== 'string') return args;
  try {
    const v: unknown = args.trim() === '' ? {} : JSON.parse(args);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // refused below
  }
  throw Errors.badRequest('tool call arguments must be a JSON object', param, 'invalid_value');
}
