// Extracts the OpenAI response schemas Switchyard must satisfy, with every schema they reference,
// from OpenAI's own OpenAPI description (../shared/openai-openapi.yaml) into a JSON fixture that
// the tests read, so they run on machines without ../shared.
// Usage: node tools/scripts/vendor-openai-schemas.mjs [path/to/openai-openapi.yaml]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const source = process.argv[2] ?? path.join(root, '..', 'shared', 'openai-openapi.yaml');
const wanted = [
  'CreateChatCompletionResponse',
  'CreateChatCompletionStreamResponse',
  'CreateCompletionResponse',
  'CreateEmbeddingResponse',
  'ListModelsResponse',
  'Model',
  'ErrorResponse',
  'Batch',
  'OpenAIFile',
  'Response',
  'ResponseStreamEvent',
];

const doc = YAML.parse(readFileSync(source, 'utf8'), { maxAliasCount: -1 });
const all = doc.components.schemas;
const picked = {};
const visit = (node) => {
  if (Array.isArray(node)) return node.forEach(visit);
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) {
      const name = v.slice('#/components/schemas/'.length);
      if (!picked[name]) {
        picked[name] = all[name];
        visit(all[name]);
      }
    } else visit(v);
  }
};
for (const name of wanted) {
  picked[name] = all[name];
  visit(all[name]);
}
const out = {
  $comment: `Vendored from OpenAI's OpenAPI description (openai-openapi.yaml, info.version ${doc.info?.version}), components.schemas: ${wanted.join(', ')} and everything they reference. Regenerate with tools/scripts/vendor-openai-schemas.mjs.`,
  components: { schemas: Object.fromEntries(Object.keys(picked).sort().map((k) => [k, picked[k]])) },
};
const dest = path.join(root, 'libs/testing/src/fixtures/openai-schemas.json');
writeFileSync(dest, JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${Object.keys(picked).length} schemas to ${path.relative(root, dest)}`);
