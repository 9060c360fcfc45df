import type { z } from 'zod';
import type { CatalogueModel } from '@switchyard/contracts';
import { mayUse } from '../../admission/admission.service';
import type { AuthContext } from '../../auth/auth.service';
import { Errors, OpenAIError, parseRequest } from '@switchyard/openai';
import type { ModelCatalogueService } from '../../models/model-catalogue.service';

/** Errors in Ollama's words (rendered `{"error": "..."}` by the Ollama error shape). */
export const OllamaErrors = {
  missingBody: () => Errors.badRequest('missing request body', null, 'missing_body'),
  modelRequired: () => Errors.badRequest('model is required', 'model', 'missing_required_parameter'),
  modelNotFound: (name: string) => new OpenAIError(404, `model '${name}' not found`, 'invalid_request_error', 'model_not_found', 'model', {}, 'model_not_found'),
  unsupported: (name: string, what: string) => Errors.badRequest(`${JSON.stringify(name)} does not support ${what}`, 'model', 'model_not_supported'),
  managedCatalogue: () =>
    new OpenAIError(
      403,
      'Models cannot be pulled, pushed, created, copied or deleted here: the model catalogue is managed by the operators.',
      'permission_error',
      'catalogue_managed',
      null,
      {},
      'forbidden',
    ),
};

/** Validates a native body with its schema (400 naming the field); an empty body is Ollama's `missing request body`. */
export function parseOllama<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null || body === '') throw OllamaErrors.missingBody();
  if (typeof body !== 'object' || Array.isArray(body)) throw Errors.badRequest('the request body must be a JSON object', null, 'invalid_body');
  return parseRequest(schema, body);
}

/** The catalogue model a name means, read as Ollama reads names: `name` and `name:latest` are one model. */
export function findModel(catalogue: ModelCatalogueService, name: string): CatalogueModel | undefined {
  const exact = catalogue.get(name);
  if (exact) return exact;
  if (name.endsWith(':latest')) return catalogue.get(name.slice(0, -':latest'.length));
  return name.includes(':') ? undefined : catalogue.get(`${name}:latest`);
}

/**
 * The catalogue model a native request names, in Ollama's words: 400 `model is required`, 404
 * `model 'NAME' not found`, 403 when the key may not use it (the pipeline checks it again), and 400
 * `"NAME" does not support chat` for an embedding model asked to generate.
 */
export function requireModel(catalogue: ModelCatalogueService, ctx: AuthContext, name: string | null | undefined, use: 'chat' | 'generate' | 'embed'): CatalogueModel {
  if (!name) throw OllamaErrors.modelRequired();
  const model = findModel(catalogue, name);
  if (!model) throw OllamaErrors.modelNotFound(name);
  if (!mayUse(ctx, model.name)) throw Errors.modelNotAllowed(model.name);
  if (use !== 'embed' && model.kind === 'embedding') throw OllamaErrors.unsupported(name, use);
  return model;
}
