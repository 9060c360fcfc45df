import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { CatalogueModel, modelCatalogueSchema, resolveCatalogue } from '@switchyard/contracts';

/** Reads and validates a model catalogue file (YAML or JSON), failing with every problem listed. */
export function loadModelCatalogue(file: string): CatalogueModel[] {
  const parsed = modelCatalogueSchema.safeParse(YAML.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid model catalogue ${file}: ${problems}`);
  }
  return resolveCatalogue(parsed.data);
}
