/** Ollama's native API (/api/*), with its exact shapes, statuses and error bodies. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SimModel } from './catalogue';
import {
  chatRequestSchema,
  embedRequestSchema,
  generateRequestSchema,
  keepAliveFor,
  Metrics,
  OLLAMA_VERSION,
  parseJsonBody,
  prepareChat,
  prepareGenerate,
  requireCapability,
  requireModel,
  runCompletion,
  runEmbed,
  SimContext,
  SimHttpError,
  validate,
} from './generation';
import { QueueFullError, RequestCanceledError } from './gpu';
import { z } from 'zod';

/** An AbortSignal that fires when the client goes away before the response is complete. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

/** Status and message of an error raised before the first byte. */
export function statusOf(err: unknown): { status: number; message: string } {
  if (err instanceof SimHttpError) return { status: err.status, message: err.message };
  if (err instanceof QueueFullError) return { status: 503, message: err.message };
  if (err instanceof RequestCanceledError) return { status: 499, message: err.message };
  return { status: 500, message: err instanceof Error ? err.message : String(err) };
}

/** Writes NDJSON lines, sending the 200 header with the first one. */
class NdjsonStream {
  private started = false;

  constructor(private readonly reply: FastifyReply) {}

  get hasStarted(): boolean {
    return this.started;
  }

  write(objects: object[]): void {
    const res = this.reply.raw;
    if (res.destroyed) return;
    if (!this.started) {
      this.started = true;
      this.reply.hijack();
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    }
    res.write(objects.map((o) => `${JSON.stringify(o)}\n`).join(''));
  }

  end(): void {
    if (this.started && !this.reply.raw.destroyed) this.reply.raw.end();
  }
}

function sendError(reply: FastifyReply, err: unknown): void {
  const { status, message } = statusOf(err);
  if (status === 499 && reply.raw.destroyed) return;
  void reply.code(status).type('application/json; charset=utf-8').send({ error: message });
}

/** Ends a request that failed: in-band (an `{"error"}` line, status 200) once the stream has started, as Ollama does; else a normal error response. */
function failStream(out: NdjsonStream, reply: FastifyReply, err: unknown): FastifyReply {
  if (out.hasStarted) {
    out.write([{ error: statusOf(err).message }]);
    out.end();
  } else {
    sendError(reply, err);
  }
  return reply;
}

export function modelDetails(m: SimModel): Record<string, unknown> {
  return {
    parent_model: '',
    format: 'gguf',
    family: m.family,
    families: [m.family],
    parameter_size: m.parameterSize,
    quantization_level: m.quantizationLevel,
  };
}

function parameterCount(size: string): number {
  const m = /^([\d.]+)\s*([KMBT]?)/i.exec(size);
  if (!m) return 0;
  const mult: Record<string, number> = { '': 1, K: 1e3, M: 1e6, B: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * (mult[m[2].toUpperCase()] ?? 1));
}

function metricsFields(m: Metrics): Metrics {
  return {
    total_duration: m.total_duration,
    load_duration: m.load_duration,
    prompt_eval_count: m.prompt_eval_count,
    prompt_eval_duration: m.prompt_eval_duration,
    eval_count: m.eval_count,
    eval_duration: m.eval_duration,
  };
}

/** The deprecated `context` of /api/generate: stand-in token ids of prompt and reply. */
function contextIds(m: Metrics): number[] {
  const n = Math.min(m.prompt_eval_count + m.eval_count, 4096);
  return Array.from({ length: n }, (_, i) => (i * 7919 + 128000) % 128256);
}

const showRequestSchema = z.looseObject({ model: z.string().optional(), name: z.string().optional(), verbose: z.boolean().optional() });

export function registerNativeRoutes(app: FastifyInstance, ctx: SimContext): void {
  const rootHandler = async (_req: FastifyRequest, reply: FastifyReply) => reply.type('text/plain; charset=utf-8').send('Ollama is running');
  // Fastify answers HEAD for every GET route.
  app.get('/', rootHandler);
  app.get('/api/version', async () => ({ version: OLLAMA_VERSION }));

  app.get('/api/tags', async () => ({
    models: ctx.catalogue.models.map((m) => ({
      name: m.name,
      model: m.name,
      modified_at: ctx.modifiedAt.toISOString(),
      size: m.sizeBytes,
      digest: m.digest,
      details: modelDetails(m),
    })),
  }));

  app.get('/api/ps', async () => ({
    models: ctx.gpu
      .runnerInfos()
      .sort((a, b) => b.expiresAt - a.expiresAt)
      .map((r) => ({
        name: r.model.name,
        model: r.model.name,
        size: r.sizeBytes,
        digest: r.model.digest,
        details: modelDetails(r.model),
        expires_at: new Date(Math.min(r.expiresAt, 8.64e15)).toISOString(),
        size_vram: r.sizeVram,
        context_length: r.numCtx,
      })),
  }));

  app.post('/api/show', async (req, reply) => {
    try {
      const body = validate(showRequestSchema, parseJsonBody(req.body), 'ShowRequest');
      const name = body.model || body.name;
      if (!name) throw new SimHttpError(400, 'model is required');
      const m = ctx.catalogue.find(name);
      if (!m) throw new SimHttpError(404, `model '${name}' not found`);
      const arch = m.family;
      return {
        license: '',
        modelfile: `# Modelfile generated by "ollama show"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM ${m.name}\n\nFROM /usr/share/ollama/.ollama/models/blobs/sha256-${m.digest}\nTEMPLATE {{ .Prompt }}\n`,
        parameters: '',
        template: '{{ .Prompt }}',
        details: modelDetails(m),
        model_info: {
          'general.architecture': arch,
          'general.basename': m.name.split(':')[0],
          'general.file_type': 15,
          'general.parameter_count': parameterCount(m.parameterSize),
          'general.quantization_version': 2,
          [`${arch}.context_length`]: m.contextLength,
          [`${arch}.embedding_length`]: m.embeddingLength,
        },
        capabilities: m.capabilities,
        modified_at: ctx.modifiedAt.toISOString(),
      };
    } catch (err) {
      sendError(reply, err);
      return reply;
    }
  });

  app.post('/api/chat', async (req, reply) => {
    const signal = clientGone(reply);
    const out = new NdjsonStream(reply);
    try {
      const body = validate(chatRequestSchema, parseJsonBody(req.body), 'ChatRequest');
      const model = requireModel(ctx, body.model);
      const name = body.model as string;
      const keepAliveS = keepAliveFor(ctx, body.keep_alive);
      const messages = body.messages ?? [];
      const created = () => new Date().toISOString();
      ctx.stats.request(model.name, 'chat');
      if (messages.length === 0 && keepAliveS === 0) {
        ctx.gpu.expire(model.name);
        return { model: name, created_at: created(), message: { role: 'assistant', content: '' }, done_reason: 'unload', done: true };
      }
      requireCapability(model, name, 'completion', 'chat');
      if ((body.tools?.length ?? 0) > 0) requireCapability(model, name, 'tools', 'tools');
      if (body.think === true) requireCapability(model, name, 'thinking', 'thinking');
      const prep = prepareChat(ctx, model, body, keepAliveS);
      if (messages.length === 0) {
        const lease = await ctx.gpu.acquire(model, prep.numCtx, keepAliveS, signal);
        lease.release();
        return { model: name, created_at: created(), message: { role: 'assistant', content: '' }, done_reason: 'load', done: true };
      }
      const stream = body.stream !== false;
      const metrics = await runCompletion(ctx, prep, signal, (pieces) => {
        if (stream) out.write(pieces.map((content) => ({ model: name, created_at: created(), message: { role: 'assistant', content }, done: false })));
      });
      const message: Record<string, unknown> = { role: 'assistant', content: stream ? '' : prep.plan.text };
      if (prep.toolCalls) {
        if (stream) out.write([{ model: name, created_at: created(), message: { role: 'assistant', content: '', tool_calls: prep.toolCalls }, done: false }]);
        else message.tool_calls = prep.toolCalls;
      }
      const final = { model: name, created_at: created(), message, done_reason: prep.plan.doneReason, done: true, ...metricsFields(metrics) };
      if (!stream) return final;
      out.write([final]);
      out.end();
      return reply;
    } catch (err) {
      return failStream(out, reply, err);
    }
  });

  app.post('/api/generate', async (req, reply) => {
    const signal = clientGone(reply);
    const out = new NdjsonStream(reply);
    try {
      const body = validate(generateRequestSchema, parseJsonBody(req.body), 'GenerateRequest');
      const model = requireModel(ctx, body.model);
      const name = body.model as string;
      const keepAliveS = keepAliveFor(ctx, body.keep_alive);
      const created = () => new Date().toISOString();
      const prompt = body.prompt ?? '';
      ctx.stats.request(model.name, 'generate');
      if (prompt === '' && keepAliveS === 0) {
        ctx.gpu.expire(model.name);
        return { model: name, created_at: created(), response: '', done: true, done_reason: 'unload' };
      }
      requireCapability(model, name, 'completion', 'generate');
      if (body.suffix) requireCapability(model, name, 'insert', 'insert');
      if (body.think === true) requireCapability(model, name, 'thinking', 'thinking');
      const prep = prepareGenerate(ctx, model, body, keepAliveS);
      if (prompt === '') {
        const lease = await ctx.gpu.acquire(model, prep.numCtx, keepAliveS, signal);
        lease.release();
        return { model: name, created_at: created(), response: '', done: true, done_reason: 'load' };
      }
      const stream = body.stream !== false;
      const metrics = await runCompletion(ctx, prep, signal, (pieces) => {
        if (stream) out.write(pieces.map((response) => ({ model: name, created_at: created(), response, done: false })));
      });
      const final = {
        model: name,
        created_at: created(),
        response: stream ? '' : prep.plan.text,
        done: true,
        done_reason: prep.plan.doneReason,
        ...(body.raw ? {} : { context: contextIds(metrics) }),
        ...metricsFields(metrics),
      };
      if (!stream) return final;
      out.write([final]);
      out.end();
      return reply;
    } catch (err) {
      return failStream(out, reply, err);
    }
  });

  app.post('/api/embed', async (req, reply) => {
    const signal = clientGone(reply);
    try {
      const body = validate(embedRequestSchema, parseJsonBody(req.body), 'EmbedRequest');
      const model = requireModel(ctx, body.model);
      const keepAliveS = keepAliveFor(ctx, body.keep_alive);
      ctx.stats.request(model.name, 'embed');
      const input = body.input ?? [];
      const inputs = typeof input === 'string' ? [input] : input;
      const r = await runEmbed(ctx, model, inputs, { truncate: body.truncate !== false, dimensions: body.dimensions, options: body.options, keepAliveS }, signal);
      return { model: body.model, embeddings: r.embeddings, total_duration: r.total_duration, load_duration: r.load_duration, prompt_eval_count: r.prompt_eval_count };
    } catch (err) {
      sendError(reply, err);
      return reply;
    }
  });

  const legacyEmbeddingsSchema = z.looseObject({
    model: z.string().optional(),
    prompt: z.string().nullish(),
    options: embedRequestSchema.shape.options,
    keep_alive: embedRequestSchema.shape.keep_alive,
  });
  app.post('/api/embeddings', async (req, reply) => {
    const signal = clientGone(reply);
    try {
      const body = validate(legacyEmbeddingsSchema, parseJsonBody(req.body), 'EmbeddingRequest');
      const model = requireModel(ctx, body.model);
      const keepAliveS = keepAliveFor(ctx, body.keep_alive);
      ctx.stats.request(model.name, 'embeddings');
      const prompt = body.prompt ?? '';
      const r = await runEmbed(ctx, model, prompt === '' ? [] : [prompt], { truncate: true, options: body.options, keepAliveS }, signal);
      return { embedding: r.embeddings[0] ?? [] };
    } catch (err) {
      sendError(reply, err);
      return reply;
    }
  });
}
