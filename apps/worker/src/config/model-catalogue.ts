import type { CatalogueModel } from '@switchyard/contracts';

export const MODEL_CATALOGUE = Symbol('MODEL_CATALOGUE');

/** Ollama shows an untagged name with `:latest`; the catalogue and the queues use the name as written. */
function withoutLatest(name: string): string {
  return name.endsWith(':latest') ? name.slice(0, -':latest'.length) : name;
}

/** The model catalogue as the worker reads it: lookups by the catalogue's name or by Ollama's. */
export class ModelCatalogue {
  private readonly byName = new Map<string, CatalogueModel>();

  constructor(readonly models: CatalogueModel[]) {
    for (const m of models) this.byName.set(m.name, m);
  }

  get(name: string): CatalogueModel | undefined {
    return this.byName.get(name) ?? this.byName.get(withoutLatest(name)) ?? this.byName.get(`${name}:latest`);
  }

  /** The catalogue's name for a model Ollama reports (`nomic-embed-text:latest` → `nomic-embed-text`). */
  canonicalName(ollamaName: string): string | undefined {
    return this.get(ollamaName)?.name;
  }

  /** True when two names mean the same Ollama model. */
  static same(a: string, b: string): boolean {
    return withoutLatest(a) === withoutLatest(b);
  }
}
