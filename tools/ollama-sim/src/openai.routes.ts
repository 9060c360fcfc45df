/**
 * Ollama's OpenAI layer (/v1/*): requests converted to native ones (max_tokens → num_predict,
 * response_format → format, no num_ctx or keep_alive), answers and SSE streams shaped as Ollama's
 * middleware writes them, errors as `{error: {message, type, param, code}}`.
 */
import { randomInt } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { clientGone, statusOf } from './native.routes';
import {
  ChatMessage,
  ChatRequest,
  GenerateRequest,
  parseJsonBody,
  prepareChat,
  prepareGenerate,
  requireCapability,
  requireModel,
  runCompletion,
  runEmbed,
  SimContext,
  SimHttpError,
  SimOptions,
  validate,
} from './generation';
import type { NativeToolCall } from './text';

function errorType(status: number): string {
  return status === 400 ? 'invalid_request_error' : status === 404 ? 'not_found_error' : 'api_error';
}

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, message } = statusOf(err);
  if (!(status === 499 && reply.raw.destroyed)) {
    void reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send({ error: { message, type: errorType(status), param: null, code: null } });
  }
  return reply;
}

/** Ollama parses the body itself after the middleware: a bad body reads as Go's decoder error. */
function parseBody(raw: unknown): unknown {
  try {
    return parseJsonBody(raw);
  } catch (err) {
    if (err instanceof SimHttpError && err.message === 'missing request body') throw new SimHttpError(400, 'EOF');
    throw err;
  }
}

/** Writes `data: ...` events, sending the 200 header with the first one. */
class SseStream {
  private started = false;

  constructor(private readonly reply: FastifyReply) {}

  get hasStarted(): boolean {
    return this.started;
  }

  write(events: Array<object | string>): void {
    const res = this.reply.raw;
    if (res.destroyed) return;
    if (!this.started) {
      this.started = true;
      this.reply.hijack();
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    }
    res.write(events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join(''));
  }

  end(): void {
    if (this.started && !this.reply.raw.destroyed) this.reply.raw.end();
  }
}

const openAiToolCallSchema = z.looseObject({
  id: z.string().optional(),
  type: z.string().optional(),
  function: z.looseObject({ name: z.string().optional(), arguments: z.string().optional() }),
});

const openAiMessageSchema = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
  tool_calls: z.array(openAiToolCallSchema).nullish(),
  name: z.string().nullish(),
  tool_call_id: z.string().nullish(),
});

const streamOptionsSchema = z.looseObject({ include_usage: z.boolean().optional() }).nullish();
const stopSchema = z.union([z.string(), z.array(z.string())]).nullish();

const chatCompletionSchema = z.looseObject({
  model: z.string().optional(),
  messages: z.array(openAiMessageSchema).nullish(),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema,
  max_tokens: z.number().int().nullish(),
  max_completion_tokens: z.number().int().nullish(),
  seed: z.number().int().nullish(),
  stop: stopSchema,
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  frequency_penalty: z.number().nullish(),
  presence_penalty: z.number().nullish(),
  response_format: z.looseObject({ type: z.string(), json_schema: z.looseObject({ schema: z.unknown().optional() }).nullish() }).nullish(),
  tools: z.array(z.looseObject({ type: z.string().optional(), function: z.looseObject({ name: z.string().optional() }).optional() })).nullish(),
});

const completionSchema = z.looseObject({
  model: z.string().optional(),
  prompt: z.string().nullish(),
  suffix: z.string().nullish(),
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema,
  max_tokens: z.number().int().nullish(),
  seed: z.number().int().nullish(),
  stop: stopSchema,
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  frequency_penalty: z.number().nullish(),
  presence_penalty: z.number().nullish(),
});

const embeddingsSchema = z.looseObject({
  model: z.string().optional(),
  input: z.union([z.string(), z.array(z.string())]).nullish(),
  dimensions: z.number().int().nullish(),
  encoding_format: z.string().nullish(),
});

function optionsFrom(body: {
  stop?: string | string[] | null;
  max_tokens?: number | null;
  seed?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
}): SimOptions {
  const options: SimOptions = { temperature: body.temperature ?? 1.0, top_p: body.top_p ?? 1.0 };
  if (body.stop !== undefined && body.stop !== null) options.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (body.max_tokens !== undefined && body.max_tokens !== null) options.num_predict = body.max_tokens;
  if (body.seed !== undefined && body.seed !== null) options.seed = body.seed;
  if (body.frequency_penalty !== undefined && body.frequency_penalty !== null) options.frequency_penalty = body.frequency_penalty;
  if (body.presence_penalty !== undefined && body.presence_penalty !== null) options.presence_penalty = body.presence_penalty;
  return options;
}

/** OpenAI messages → native ones (text parts become messages, image parts images). */
function nativeMessages(messages: z.infer<typeof openAiMessageSchema>[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of messages) {
    const toolCalls = m.tool_calls?.map((tc) => {
      let args: unknown;
      try {
        args = JSON.parse(tc.function.arguments ?? '{}');
      } catch {
        throw new SimHttpError(400, 'invalid tool call arguments');
      }
      return { function: { name: tc.function.name ?? '', arguments: args } };
    });
    if (typeof m.content === 'string') {
      out.push({ role: m.role, content: m.content, tool_calls: toolCalls });
    } else if (Array.isArray(m.content)) {
      for (const part of m.content) {
        if (part.type === 'text' && typeof part.text === 'string') out.push({ role: m.role, content: part.text });
        else if (part.type === 'image_url') out.push({ role: m.role, content: '', images: ['image'] });
        else throw new SimHttpError(400, 'invalid message format');
      }
      if (toolCalls && out.length > 0) out[out.length - 1].tool_calls = toolCalls;
    } else {
      if (!toolCalls) throw new SimHttpError(400, `invalid message content type: ${m.content === null ? '<nil>' : typeof m.content}`);
      out.push({ role: m.role, content: '', tool_calls: toolCalls });
    }
  }
  return out;
}

function callId(): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `call_${Array.from({ length: 8 }, () => chars[randomInt(chars.length)]).join('')}`;
}

function openAiToolCalls(calls: NativeToolCall[]): object[] {
  return calls.map((c, index) => ({
    id: callId(),
    index,
    type: 'function',
    function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) },
  }));
}

function ownedBy(name: string): string {
  const parts = name.split('/');
  return parts.length >= 2 ? parts[parts.length - 2] : 'library';
}

export function registerOpenAiRoutes(app: FastifyInstance, ctx: SimContext): void {
  app.post('/v1/chat/completions', async (req, reply) => {
    const signal = clientGone(reply);
    const out = new SseStream(reply);
    try {
      const body = validate(chatCompletionSchema, parseBody(req.body), 'ChatCompletionRequest');
      if (!body.messages || body.messages.length === 0) throw new SimHttpError(400, "[] is too short - 'messages'");
      const messages = nativeMessages(body.messages);
      const model = requireModel(ctx, body.model);
      const name = body.model as string;
      ctx.stats.request(model.name, 'v1/chat/completions');
      requireCapability(model, name, 'completion', 'chat');
      const tools = body.tools ?? [];
      if (tools.length > 0) requireCapability(model, name, 'tools', 'tools');
      let format: unknown;
      const rf = body.response_format;
      if (rf?.type.trim().toLowerCase() === 'json_object') format = 'json';
      else if (rf?.type.trim().toLowerCase() === 'json_schema') format = rf.json_schema?.schema;
      const nativeReq: ChatRequest = {
        model: name,
        messages,
        format,
        tools,
        options: optionsFrom({ ...body, max_tokens: body.max_tokens ?? body.max_completion_tokens }),
      };
      const prep = prepareChat(ctx, model, nativeReq, ctx.gpu.cfg.keepAliveS);
      const id = `chatcmpl-${randomInt(999)}`;
      const created = Math.floor(Date.now() / 1000);
      const head = { id, object: 'chat.completion.chunk', created, model: name, system_fingerprint: 'fp_ollama' };
      const stream = body.stream === true;
      let sentRole = false;
      const delta = (d: Record<string, unknown>) => {
        const withRole = sentRole ? d : { role: 'assistant', ...d };
        sentRole = true;
        return { ...head, choices: [{ index: 0, delta: withRole, finish_reason: null }] };
      };
      const metrics = await runCompletion(ctx, prep, signal, (pieces) => {
        if (stream) out.write(pieces.map((content) => delta({ content })));
      });
      const toolCalls = prep.toolCalls ? openAiToolCalls(prep.toolCalls) : undefined;
      const finishReason = toolCalls ? 'tool_calls' : prep.plan.doneReason;
      const usage = {
        prompt_tokens: metrics.prompt_eval_count,
        completion_tokens: metrics.eval_count,
        total_tokens: metrics.prompt_eval_count + metrics.eval_count,
      };
      if (!stream) {
        const message: Record<string, unknown> = { role: 'assistant', content: prep.plan.text };
        if (toolCalls) message.tool_calls = toolCalls;
        return {
          id,
          object: 'chat.completion',
          created,
          model: name,
          system_fingerprint: 'fp_ollama',
          choices: [{ index: 0, message, finish_reason: finishReason }],
          usage,
        };
      }
      const events: Array<object | string> = [];
      if (toolCalls) events.push(delta({ content: '', tool_calls: toolCalls }));
      else if (!sentRole) events.push(delta({ content: '' }));
      events.push({ ...head, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
      if (body.stream_options?.include_usage) events.push({ ...head, choices: [], usage });
      events.push('[DONE]');
      out.write(events);
      out.end();
      return reply;
    } catch (err) {
      if (out.hasStarted) {
        out.write([{ error: { message: statusOf(err).message, type: 'api_error', param: null, code: null } }]);
        out.end();
        return reply;
      }
      return sendError(reply, err);
    }
  });

  app.post('/v1/completions', async (req, reply) => {
    const signal = clientGone(reply);
    const out = new SseStream(reply);
    try {
      const body = validate(completionSchema, parseBody(req.body), 'CompletionRequest');
      const model = requireModel(ctx, body.model);
      const name = body.model as string;
      ctx.stats.request(model.name, 'v1/completions');
      requireCapability(model, name, 'completion', 'generate');
      if (body.suffix) requireCapability(model, name, 'insert', 'insert');
      const nativeReq: GenerateRequest = { model: name, prompt: body.prompt ?? '', suffix: body.suffix ?? '', options: optionsFrom(body) };
      const prep = prepareGenerate(ctx, model, nativeReq, ctx.gpu.cfg.keepAliveS);
      const id = `cmpl-${randomInt(999)}`;
      const created = Math.floor(Date.now() / 1000);
      const chunk = (text: string, finish: string | null) => ({
        id,
        object: 'text_completion',
        created,
        choices: [{ text, index: 0, finish_reason: finish }],
        model: name,
        system_fingerprint: 'fp_ollama',
      });
      const stream = body.stream === true;
      let text = prep.plan.text;
      let finishReason: string = prep.plan.doneReason;
      let usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
      if ((body.prompt ?? '') === '') {
        // Ollama's generate treats an empty prompt as a preload.
        const lease = await ctx.gpu.acquire(model, prep.numCtx, ctx.gpu.cfg.keepAliveS, signal);
        lease.release();
        text = '';
        finishReason = 'load';
      } else {
        const metrics = await runCompletion(ctx, prep, signal, (pieces) => {
          if (stream) out.write(pieces.map((p) => chunk(p, null)));
        });
        usage = { prompt_tokens: metrics.prompt_eval_count, completion_tokens: metrics.eval_count, total_tokens: metrics.prompt_eval_count + metrics.eval_count };
      }
      if (!stream) {
        return {
          id,
          object: 'text_completion',
          created,
          model: name,
          system_fingerprint: 'fp_ollama',
          choices: [{ text, index: 0, finish_reason: finishReason }],
          usage,
        };
      }
      const events: Array<object | string> = [chunk('', finishReason)];
      if (body.stream_options?.include_usage) events.push({ ...chunk('', null), choices: [], usage });
      events.push('[DONE]');
      out.write(events);
      out.end();
      return reply;
    } catch (err) {
      if (out.hasStarted) {
        out.write([{ error: { message: statusOf(err).message, type: 'api_error', param: null, code: null } }]);
        out.end();
        return reply;
      }
      return sendError(reply, err);
    }
  });

  app.post('/v1/embeddings', async (req, reply) => {
    const signal = clientGone(reply);
    try {
      const body = validate(embeddingsSchema, parseBody(req.body), 'EmbedRequest');
      const format = body.encoding_format ?? '';
      if (format !== '' && format.toLowerCase() !== 'float' && format.toLowerCase() !== 'base64') {
        throw new SimHttpError(400, `Invalid value for 'encoding_format' = ${format}. Supported values: ['float', 'base64'].`);
      }
      const input = body.input === '' ? [''] : body.input;
      if (input === undefined || input === null || (Array.isArray(input) && input.length === 0)) throw new SimHttpError(400, 'invalid input');
      const model = requireModel(ctx, body.model);
      ctx.stats.request(model.name, 'v1/embeddings');
      const inputs = typeof input === 'string' ? [input] : input;
      const r = await runEmbed(ctx, model, inputs, { truncate: true, dimensions: body.dimensions, keepAliveS: ctx.gpu.cfg.keepAliveS }, signal);
      const base64 = format.toLowerCase() === 'base64';
      return {
        object: 'list',
        data: r.embeddings.map((e, index) => ({
          object: 'embedding',
          embedding: base64 ? Buffer.from(new Float32Array(e).buffer).toString('base64') : e,
          index,
        })),
        model: body.model,
        usage: { prompt_tokens: r.prompt_eval_count, total_tokens: r.prompt_eval_count },
      };
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.get('/v1/models', async () => ({
    object: 'list',
    data: ctx.catalogue.models.map((m) => ({
      id: m.name,
      object: 'model',
      created: Math.floor(ctx.modifiedAt.getTime() / 1000),
      owned_by: ownedBy(m.name),
    })),
  }));

  app.get<{ Params: { model: string } }>('/v1/models/:model', async (req, reply) => {
    const name = req.params.model;
    const m = ctx.catalogue.find(name);
    if (!m) return sendError(reply, new SimHttpError(404, `model '${name}' not found`));
    return { id: name, object: 'model', created: Math.floor(ctx.modifiedAt.getTime() / 1000), owned_by: ownedBy(name) };
  });
}
