import {
  DEFAULT_SHARE,
  BATCH_RELAY_ID,
  batchLineRequestId,
  chatCompletionRequestSchema,
  completionRequestSchema,
  embeddingRequestSchema,
  type BatchCaller,
  type CatalogueModel,
  type InferenceJob,
  type Work,
} from '@switchyard/contracts';
import { chatToWork, completionToWork, Errors, OpenAIError, parseRequest, promptText } from '@switchyard/openai';
import type { LineRender, NewLine } from './lines.repository';

export const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

const CHARS_PER_TOKEN = 3;

export function insufficientQuota(): OpenAIError {
  return new OpenAIError(429, "You exceeded your key's token budget; the batch's requests were not run.", 'insufficient_quota', 'insufficient_quota');
}

/** What the online API would check before enqueueing: the body, the model, the caller's policy. */
export interface LineContext {
  batchId: string;
  endpoint: BatchEndpoint;
  caller: BatchCaller;
  catalogue: ReadonlyMap<string, CatalogueModel>;
  /** The caller's token budget was spent when the batch was created. */
  budgetSpent: boolean;
}

/**
 * One input line's body → the InferenceJob the online endpoint would enqueue, or the error it
 * would have answered (which goes to the error file).
 */
export function lineToJob(ctx: LineContext, line: number, customId: string, body: unknown): NewLine {
  const model = typeof (body as { model?: unknown })?.model === 'string' ? (body as { model: string }).model : '';
  try {
    if (ctx.budgetSpent) throw insufficientQuota();
    const { work, render, promptChars, requestModel } = toWork(ctx.endpoint, body);
    const entry = ctx.catalogue.get(requestModel);
    if (!entry) throw Errors.modelNotFound(requestModel);
    const p = ctx.caller.policy;
    if (!p.allModels && !p.allowedModels.includes(requestModel)) throw Errors.modelNotAllowed(requestModel);
    if (ctx.endpoint !== '/v1/embeddings' && entry.kind === 'embedding') {
      throw Errors.badRequest(`The model '${entry.name}' is an embedding model; use /v1/embeddings.`, 'model', 'model_not_supported');
    }
    if (work.kind !== 'embed' && work.options.num_predict !== undefined && work.options.num_predict > entry.maxOutputTokens) {
      work.options.num_predict = entry.maxOutputTokens;
    }
    const requestId = batchLineRequestId(ctx.batchId, line);
    const job: InferenceJob = {
      requestId,
      pool: p.pool ?? entry.pool,
      model: entry.name,
      numCtx: entry.contextWindow,
      priority: 'bulk',
      edgeId: BATCH_RELAY_ID,
      keyId: ctx.caller.keyId,
      userId: ctx.caller.userId,
      ...(p.share !== undefined && p.share !== DEFAULT_SHARE ? { share: p.share } : {}),
      createdAt: Date.now(),
      estimatedPromptTokens: Math.ceil(promptChars / CHARS_PER_TOKEN),
      stream: false,
      work,
    };
    return { line, customId, model: entry.name, job, render };
  } catch (err) {
    const e = err instanceof OpenAIError ? err : Errors.internal();
    return { line, customId, model, status: e.status, body: e.body() };
  }
}

function toWork(endpoint: BatchEndpoint, body: unknown): { work: Work; render: LineRender; promptChars: number; requestModel: string } {
  switch (endpoint) {
    case '/v1/chat/completions': {
      const req = parseRequest(chatCompletionRequestSchema, body);
      const work = chatToWork({ ...req, stream: false });
      return { work, render: { kind: 'chat' }, promptChars: JSON.stringify(work.messages).length, requestModel: req.model };
    }
    case '/v1/completions': {
      const req = parseRequest(completionRequestSchema, body);
      const work = completionToWork({ ...req, stream: false });
      const render: LineRender = req.echo ? { kind: 'text', echo: promptText(req) } : { kind: 'text' };
      return { work, render, promptChars: work.prompt.length, requestModel: req.model };
    }
    case '/v1/embeddings': {
      const req = parseRequest(embeddingRequestSchema, body);
      const input = typeof req.input === 'string' ? [req.input] : req.input;
      const emptyAt = input.findIndex((s) => s.length === 0);
      if (emptyAt >= 0) throw Errors.badRequest('Inputs must not be empty strings.', typeof req.input === 'string' ? 'input' : `input[${emptyAt}]`, 'invalid_value');
      const work: Work = { kind: 'embed', input, ...(req.dimensions ? { dimensions: req.dimensions } : {}) };
      return { work, render: { kind: 'embed', base64: req.encoding_format === 'base64' }, promptChars: input.join('').length, requestModel: req.model };
    }
    default: {
      const never: never = endpoint;
      throw new Error(`unknown endpoint ${String(never)}`);
    }
  }
}
