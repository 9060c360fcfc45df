import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fixture from './fixtures/openai-schemas.json';

/**
 * Validators for OpenAI's own response schemas, from the vendored fixture (vendored from OpenAI's
 * OpenAPI description by tools/scripts/vendor-openai-schemas.mjs).
 */
export type OpenAISchemaName =
  | 'CreateChatCompletionResponse'
  | 'CreateChatCompletionStreamResponse'
  | 'CreateCompletionResponse'
  | 'CreateEmbeddingResponse'
  | 'ListModelsResponse'
  | 'Model'
  | 'ErrorResponse'
  | 'Batch'
  | 'OpenAIFile'
  | 'Response'
  | 'ResponseStreamEvent';

let ajv: Ajv2020 | undefined;
const cache = new Map<OpenAISchemaName, ValidateFunction>();

function validator(name: OpenAISchemaName): ValidateFunction {
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(ajv);
    // OpenAI's description uses a custom format for Unix timestamps; the integer type already checks it.
    ajv.addFormat('unixtime', true);
    ajv.addSchema({ $id: 'openai', components: toJsonSchema(fixture.components) } as object);
  }
  let v = cache.get(name);
  if (!v) {
    v = ajv.compile({ $ref: `openai#/components/schemas/${name}` });
    cache.set(name, v);
  }
  return v;
}

/** Throws with every schema violation listed when `body` does not satisfy OpenAI's schema `name`. */
export function assertOpenAISchema(name: OpenAISchemaName, body: unknown): void {
  const v = validator(name);
  if (!v(body)) {
    const errs = (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    throw new Error(`response does not match OpenAI's ${name}:\n  ${errs.join('\n  ')}\nbody: ${JSON.stringify(body).slice(0, 2000)}`);
  }
}

/**
 * OpenAI's description is OpenAPI 3.1 but still uses 3.0's `nullable: true`, sometimes beside a
 * `$ref` or `anyOf` with no `type`; rewrite it as JSON Schema (`anyOf: [..., {type: 'null'}]`).
 */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'properties' ? mapValues(v, toJsonSchema) : toJsonSchema(v);
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  delete out.nullable;
  return out;
}

function mapValues(obj: unknown, fn: (v: unknown) => unknown): unknown {
  if (!obj || typeof obj !== 'object') return obj;
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v)]));
}
