/**
 * What both API layers share: validating a native request, planning the deterministic output,
 * running it on the GPU and turning the times into Ollama's metrics (simulated nanoseconds).
 */
import { z } from 'zod';
import type { Catalogue, Capability, SimModel } from './catalogue';
import { parseKeepAlive } from './duration';
import type { Gpu } from './gpu';
import type { SimStats } from './stats';
import {
  countTokens,
  embeddingFor,
  IMAGE_TOKENS,
  jsonTokensFor,
  MESSAGE_TEMPLATE_TOKENS,
  NativeToolCall,
  normalise,
  OutputPlan,
  planOutput,
  PROMPT_TEMPLATE_TOKENS,
  proseFor,
  rngFrom,
  seedKey,
  toolCallFor,
  ToolDefinition,
} from './text';

export const OLLAMA_VERSION = '0.34.0';
export const PROMPT_TOO_LONG =
  'the prompt is longer than the context length currently available to the model; shorten the prompt, adjust the context length in settings, or use a model with a longer context length';
export const INPUT_TOO_LONG = 'the input length exceeds the context length';
/** The output is planned up front: num_predict above this is capped (memory). */
export const MAX_GENERATED_TOKENS = 1_000_000;

/** Everything a request handler needs from its simulated server. */
export interface SimContext {
  gpu: Gpu;
  catalogue: Catalogue;
  stats: SimStats;
  seed: number;
  timeScale: number;
  /** `modified_at` of every model. */
  modifiedAt: Date;
}

/** An error answered with a status before the first byte. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------- request bodies (native API)

export const optionsSchema = z.looseObject({
  num_ctx: z.number().optional(),
  num_predict: z.number().optional(),
  stop: z.union([z.string(), z.array(z.string())]).optional(),
  seed: z.number().optional(),
});
export type SimOptions = z.infer<typeof optionsSchema>;

const toolSchema = z.looseObject({
  type: z.string().optional(),
  function: z.looseObject({ name: z.string().optional(), description: z.string().optional(), parameters: z.unknown().optional() }).optional(),
});

export const chatMessageSchema = z.looseObject({
  role: z.string(),
  content: z.string().optional(),
  images: z.array(z.string()).nullish(),
  tool_calls: z.array(z.unknown()).nullish(),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const chatRequestSchema = z.looseObject({
  model: z.string().optional(),
  messages: z.array(chatMessageSchema).nullish(),
  stream: z.boolean().nullish(),
  format: z.unknown().optional(),
  options: optionsSchema.nullish(),
  keep_alive: z.union([z.number(), z.string()]).nullish(),
  tools: z.array(toolSchema).nullish(),
  think: z.unknown().optional(),
  shift: z.boolean().nullish(),
  truncate: z.boolean().nullish(),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

export const generateRequestSchema = z.looseObject({
  model: z.string().optional(),
  prompt: z.string().nullish(),
  suffix: z.string().nullish(),
  system: z.string().nullish(),
  template: z.string().nullish(),
  raw: z.boolean().nullish(),
  images: z.array(z.string()).nullish(),
  stream: z.boolean().nullish(),
  format: z.unknown().optional(),
  options: optionsSchema.nullish(),
  keep_alive: z.union([z.number(), z.string()]).nullish(),
  think: z.unknown().optional(),
  shift: z.boolean().nullish(),
  truncate: z.boolean().nullish(),
});
export type GenerateRequest = z.infer<typeof generateRequestSchema>;

export const embedRequestSchema = z.looseObject({
  model: z.string().optional(),
  input: z.union([z.string(), z.array(z.string())]).nullish(),
  truncate: z.boolean().nullish(),
  dimensions: z.number().int().nullish(),
  options: optionsSchema.nullish(),
  keep_alive: z.union([z.number(), z.string()]).nullish(),
});
export type EmbedRequest = z.infer<typeof embedRequestSchema>;

/** The body as text (the content-type parser keeps it raw) → JSON, with Ollama's 400s. */
export function parseJsonBody(raw: unknown): unknown {
  const text = typeof raw === 'string' ? raw : Buffer.isBuffer(raw) ? raw.toString('utf8') : '';
  if (text.trim() === '') throw new SimHttpError(400, 'missing request body');
  try {
    return JSON.parse(text);
  } catch (err) {
    const pos = /position (\d+)/.exec((err as Error).message);
    if (!pos) throw new SimHttpError(400, 'unexpected EOF');
    throw new SimHttpError(400, `invalid character '${text[Number(pos[1])] ?? ''}' looking for beginning of value`);
  }
}

function goType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** zod-validates a body; the 400 names the field as Go's encoding/json would. */
export function validate<T>(schema: z.ZodType<T>, body: unknown, structName: string): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SimHttpError(400, `json: cannot unmarshal ${goType(body)} into Go value of type api.${structName}`);
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  let value: unknown = body;
  for (const k of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey];
  const field = issue.path.filter((p) => typeof p === 'string').join('.');
  const expected = 'expected' in issue ? String(issue.expected) : 'value';
  throw new SimHttpError(400, `json: cannot unmarshal ${goType(value)} into Go struct field ${structName}.${field} of type ${expected}`);
}

export function requireModel(ctx: SimContext, name: string | undefined): SimModel {
  if (!name) throw new SimHttpError(400, 'model is required');
  const model = ctx.catalogue.find(name);
  if (!model) throw new SimHttpError(404, `model '${name}' not found`);
  return model;
}

export function requireCapability(model: SimModel, requested: string, capability: Capability, what: string): void {
  if (!model.capabilities.includes(capability)) throw new SimHttpError(400, `${JSON.stringify(requested)} does not support ${what}`);
}

export function keepAliveFor(ctx: SimContext, value: number | string | null | undefined): number {
  if (value === undefined || value === null) return ctx.gpu.cfg.keepAliveS;
  try {
    return parseKeepAlive(value);
  } catch (err) {
    throw new SimHttpError(400, (err as Error).message);
  }
}

function stopsOf(options: SimOptions | null | undefined): string[] {
  const stop = options?.stop;
  return stop === undefined ? [] : typeof stop === 'string' ? [stop] : stop;
}

// ---------------------------------------------------------------- planning

/** A completion ready to run: where, how big, and what it will say. */
export interface PreparedCompletion {
  model: SimModel;
  numCtx: number;
  keepAliveS: number;
  promptTokens: number;
  /** false: a prompt longer than num_ctx is a 400 instead of being truncated. */
  shift: boolean;
  plan: OutputPlan;
  toolCalls?: NativeToolCall[];
}

function outputFor(key: string, format: unknown, options: SimOptions | null | undefined): OutputPlan {
  const rng = rngFrom(key);
  const wantsJson = format === 'json' || (typeof format === 'object' && format !== null);
  // Prose runs until num_predict when it is set (done_reason length), like a model that never
  // emits end-of-sequence first; JSON ends where the document ends.
  const numPredict = options?.num_predict === undefined ? undefined : Math.min(options.num_predict, MAX_GENERATED_TOKENS);
  const tokens = wantsJson ? jsonTokensFor(rng, format) : proseFor(rng, numPredict);
  return planOutput(tokens, numPredict, stopsOf(options));
}

export function prepareChat(ctx: SimContext, model: SimModel, req: ChatRequest, keepAliveS: number): PreparedCompletion {
  const messages = req.messages ?? [];
  const tools = (req.tools ?? []) as ToolDefinition[];
  let promptTokens = 1;
  for (const m of messages) promptTokens += countTokens(m.content) + MESSAGE_TEMPLATE_TOKENS + (m.images?.length ?? 0) * IMAGE_TOKENS;
  if (tools.length > 0) promptTokens += countTokens(JSON.stringify(tools));
  const key = seedKey([
    ctx.seed,
    model.name,
    'chat',
    messages.map((m) => [m.role, m.content ?? '', m.images?.length ?? 0]),
    req.format ?? null,
    tools,
    req.options?.seed ?? null,
  ]);
  const numCtx = ctx.gpu.numCtxFor(model, req.options?.num_ctx);
  const last = messages[messages.length - 1];
  if (tools.length > 0 && last?.role === 'user') {
    const call = toolCallFor(rngFrom(key), tools);
    if (call) {
      const evalCount = Math.max(1, countTokens(JSON.stringify(call)));
      const limit = req.options?.num_predict;
      const n = limit !== undefined && limit > 0 ? Math.min(limit, evalCount) : evalCount;
      return {
        model,
        numCtx,
        keepAliveS,
        promptTokens,
        shift: req.shift !== false,
        plan: { pieces: Array<string>(n).fill(''), text: '', evalCount: n, doneReason: n < evalCount ? 'length' : 'stop' },
        toolCalls: n < evalCount ? undefined : [call],
      };
    }
  }
  return { model, numCtx, keepAliveS, promptTokens, shift: req.shift !== false, plan: outputFor(key, req.format, req.options) };
}

export function prepareGenerate(ctx: SimContext, model: SimModel, req: GenerateRequest, keepAliveS: number): PreparedCompletion {
  const promptTokens =
    countTokens(req.system ?? '') +
    countTokens(req.prompt ?? '') +
    countTokens(req.suffix ?? '') +
    (req.raw ? 1 : PROMPT_TEMPLATE_TOKENS) +
    (req.images?.length ?? 0) * IMAGE_TOKENS;
  const key = seedKey([ctx.seed, model.name, 'generate', req.system ?? '', req.prompt ?? '', req.suffix ?? '', req.format ?? null, req.options?.seed ?? null]);
  return {
    model,
    numCtx: ctx.gpu.numCtxFor(model, req.options?.num_ctx),
    keepAliveS,
    promptTokens,
    shift: req.shift !== false,
    plan: outputFor(key, req.format, req.options),
  };
}

// ---------------------------------------------------------------- running

/** Ollama's metrics, simulated nanoseconds. */
export interface Metrics {
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
}

function nanos(ctx: SimContext, realMs: number): number {
  return Math.max(0, Math.round(realMs * ctx.timeScale * 1e6));
}

/**
 * Runs a prepared completion: loads or waits for the runner, checks the prompt against num_ctx,
 * evaluates the prompt and generates, calling `onPieces` with the text released as tokens come.
 */
export async function runCompletion(
  ctx: SimContext,
  prep: PreparedCompletion,
  signal: AbortSignal,
  onPieces: (pieces: string[]) => void,
): Promise<Metrics> {
  const lease = await ctx.gpu.acquire(prep.model, prep.numCtx, prep.keepAliveS, signal);
  try {
    let promptTokens = prep.promptTokens;
    if (promptTokens > lease.runner.numCtx) {
      if (!prep.shift) throw new SimHttpError(400, PROMPT_TOO_LONG);
      promptTokens = lease.runner.numCtx;
    }
    let sent = 0;
    const times = await lease.compute({
      promptTokens,
      genTokens: prep.plan.evalCount,
      signal,
      onTokens: (generated) => {
        const pieces = prep.plan.pieces.slice(sent, generated).filter((p) => p.length > 0);
        sent = generated;
        if (pieces.length > 0) onPieces(pieces);
      },
    });
    return {
      total_duration: nanos(ctx, times.endAt - lease.arrivedAt),
      load_duration: nanos(ctx, lease.handoverAt - lease.arrivedAt),
      prompt_eval_count: promptTokens,
      prompt_eval_duration: nanos(ctx, times.promptEndAt - times.slotAt),
      eval_count: times.generated,
      eval_duration: nanos(ctx, times.endAt - times.promptEndAt),
    };
  } finally {
    lease.release();
  }
}

export interface EmbedResult {
  embeddings: number[][];
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
}

/** Embeds each input (unit vectors of the model's embedding length, or `dimensions`). */
export async function runEmbed(
  ctx: SimContext,
  model: SimModel,
  inputs: string[],
  opts: { truncate: boolean; dimensions?: number | null; options?: SimOptions | null; keepAliveS: number },
  signal: AbortSignal,
): Promise<EmbedResult> {
  if (opts.dimensions !== undefined && opts.dimensions !== null && opts.dimensions < 0) {
    throw new SimHttpError(400, 'dimensions must be a positive integer');
  }
  const numCtx = ctx.gpu.numCtxFor(model, opts.options?.num_ctx);
  const lease = await ctx.gpu.acquire(model, numCtx, opts.keepAliveS, signal);
  try {
    let total = 0;
    for (const input of inputs) {
      let n = countTokens(input) + 1;
      if (n > lease.runner.numCtx) {
        if (!opts.truncate) throw new SimHttpError(400, INPUT_TOO_LONG);
        n = lease.runner.numCtx;
      }
      total += n;
    }
    const times = inputs.length > 0 ? await lease.compute({ promptTokens: total, genTokens: 0, signal }) : undefined;
    const dim = model.embeddingLength;
    const d = opts.dimensions && opts.dimensions > 0 && opts.dimensions < dim ? opts.dimensions : dim;
    const embeddings = inputs.map((input) => {
      const v = embeddingFor(seedKey([ctx.seed, model.name, 'embed', input]), dim);
      return d < dim ? normalise(v.slice(0, d)) : v;
    });
    const endAt = times?.endAt ?? lease.handoverAt;
    return {
      embeddings,
      total_duration: nanos(ctx, endAt - lease.arrivedAt),
      load_duration: nanos(ctx, lease.handoverAt - lease.arrivedAt),
      prompt_eval_count: total,
    };
  } finally {
    lease.release();
  }
}
