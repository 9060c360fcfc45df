import { statSync } from 'node:fs';
import { Inject, Injectable } from '@nestjs/common';
import type { CatalogueModel } from '@switchyard/contracts';
import { loadModelCatalogue } from '@switchyard/config';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';

/** The models this deployment serves (deploy/models.yaml), read once at boot. */
@Injectable()
export class ModelCatalogueService {
  private readonly byName: Map<string, CatalogueModel>;
  /** Unix seconds; reported as each model's `created` (the catalogue file's modification time). */
  readonly created: number;

  constructor(@Inject(EDGE_CONFIG) config: EdgeConfig) {
    const models = loadModelCatalogue(config.MODEL_CATALOGUE);
    this.byName = new Map(models.map((m) => [m.name, m]));
    this.created = Math.floor(statSync(config.MODEL_CATALOGUE).mtimeMs / 1000);
  }

  get(name: string): CatalogueModel | undefined {
    return this.byName.get(name);
  }

  all(): CatalogueModel[] {
    return [...this.byName.values()];
  }

  /** The model's name when it is in the catalogue, else "unknown" (keeps metric labels bounded). */
  label(name: string | undefined): string {
    return name !== undefined && this.byName.has(name) ? name : 'unknown';
  }
}
