import type { AuthContext } from '../../auth/auth.service';
import { OpenAIError } from '@switchyard/openai';
import type { ModelCatalogueService } from '../../models/model-catalogue.service';
import type { Http, InferencePipeline, WholeAnswer } from '../../pipeline/inference-pipeline.service';
import { parseOllama, requireModel } from './ollama-errors';
import { embedRequestSchema, legacyEmbeddingsRequestSchema } from './ollama-requests.schema';
import { sendJson } from './ollama-render';
import { embedToInference } from './ollama-translation';

/**
 * Ollama's embeddings: `/api/embed` (`input` a string or a list → `embeddings`) and the legacy
 * `/api/embeddings` (`prompt` → `embedding`), whose path OpenAI's embeddings share: OpenAI's
 * controller hands a body with `prompt` here. No input answers at once with no vectors, as Ollama does.
 */
export class OllamaEmbeddings {
  constructor(
    private readonly pipeline: InferencePipeline,
    private readonly catalogue: ModelCatalogueService,
  ) {}

  async embed(http: Http, ctx: AuthContext): Promise<void> {
    const body = parseOllama(embedRequestSchema, http.request.body);
    this.pipeline.label(http.request, body.model ?? '');
    const model = requireModel(this.catalogue, ctx, body.model, 'embed');
    const inputs = body.input == null ? [] : typeof body.input === 'string' ? [body.input].filter(Boolean) : body.input;
    if (inputs.length === 0) return sendJson(http, { model: body.model, embeddings: [] });
    const answer = await this.pipeline.whole(http, ctx, embedToInference(model.name, inputs, body.dimensions, 'input'));
    if (!answer) return;
    const u = answer.final.usage;
    const ns = (ms: number) => Math.round(ms * 1e6);
    await sendJson(
      http,
      { model: body.model, embeddings: vectors(answer, inputs.length), total_duration: ns(u.queueMs + u.totalMs), load_duration: ns(u.loadMs), prompt_eval_count: u.promptTokens },
      answer.headers,
    );
  }

  async legacy(http: Http, ctx: AuthContext): Promise<void> {
    const body = parseOllama(legacyEmbeddingsRequestSchema, http.request.body);
    this.pipeline.label(http.request, body.model ?? '');
    const model = requireModel(this.catalogue, ctx, body.model, 'embed');
    if (!body.prompt) return sendJson(http, { embedding: [] });
    const answer = await this.pipeline.whole(http, ctx, embedToInference(model.name, [body.prompt], undefined, 'prompt'));
    if (!answer) return;
    await sendJson(http, { embedding: vectors(answer, 1)[0] }, answer.headers);
  }
}

function vectors(answer: WholeAnswer, expected: number): number[][] {
  const got = answer.final.embeddings ?? [];
  if (got.length !== expected) throw new OpenAIError(502, `the worker returned ${got.length} embeddings for ${expected} inputs`, 'api_error', 'bad_worker_response');
  return got;
}
