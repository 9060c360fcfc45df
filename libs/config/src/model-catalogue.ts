import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { CatalogueModel, catalogueModelSchema, modelCatalogueSchema, resolveCatalogue } from '@switchyard/contracts';

/**
 * Serving fields of a catalogue entry read here on top of libs/contracts' schema (candidates to
 * move there):
 * - `offload`: a model larger than any GPU of its pool is, when `true`, served on the pool's
 *   largest GPU with Ollama's CPU offload (the layers that do not fit run on the CPU, several times
 *   slower: see tools/ollama-sim's README); when `false` (the default) it is refused (503).
 */
const servingFieldsSchema = z.object({
  offload: z.boolean().default(false),
});

const catalogueFileSchema = modelCatalogueSchema.extend({
  models: z.array(catalogueModelSchema.extend(servingFieldsSchema.shape)).min(1),
});

/** A catalogue entry with every default applied, and the serving fields set (`offload` only when true). */
export type ServedModel = CatalogueModel & { offload?: boolean };

/** Reads and validates a model catalogue file (YAML or JSON), failing with every problem listed. */
export function loadModelCatalogue(file: string): ServedModel[] {
  const parsed = catalogueFileSchema.safeParse(YAML.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid model catalogue ${file}: ${problems}`);
  }
  return resolveCatalogue(parsed.data).map((m, i) => (parsed.data.models[i].offload ? { ...m, offload: true } : m));
}
