import { Injectable } from '@nestjs/common';
import type { CatalogueModel, Model, ModelList, ResidencyEntry } from '@switchyard/contracts';
import { mayUse } from '../admission/admission.service';
import type { AuthContext } from '../auth/auth.service';
import { Errors } from '@switchyard/openai';
import { InferenceProducer } from '../queue/inference.producer';
import { ModelCatalogueService } from './model-catalogue.service';
import { ResidencyRepository } from './residency.repository';

/**
 * The catalogue's models a key may use, in OpenAI's shape, each with Switchyard's extra
 * `switchyard` field: resident now or not, on how many workers, its fixed context window, the pool
 * the key's requests go to, and how many requests wait in that queue.
 */
@Injectable()
export class ModelsService {
  constructor(
    private readonly catalogue: ModelCatalogueService,
    private readonly residency: ResidencyRepository,
    private readonly producer: InferenceProducer,
  ) {}

  async list(ctx: AuthContext): Promise<ModelList> {
    const models = this.catalogue.all().filter((m) => mayUse(ctx, m.name));
    const residency = await this.residency.all();
    const data = await Promise.all(models.map((m) => this.describe(ctx, m, residency.get(m.name))));
    return { object: 'list', data };
  }

  async get(ctx: AuthContext, id: string): Promise<Model> {
    const model = this.catalogue.get(id);
    // A model the key may not use is reported as missing, as in the list.
    if (!model || !mayUse(ctx, id)) throw Errors.modelNotFound(id);
    return this.describe(ctx, model, await this.residency.get(id));
  }

  private async describe(ctx: AuthContext, m: CatalogueModel, entry: ResidencyEntry | undefined): Promise<Model> {
    const pool = ctx.policy.pool ?? m.pool;
    const depth = await this.producer.depth(pool, m.name).catch(() => undefined);
    const workers = entry?.workers.length ?? 0;
    return {
      id: m.name,
      object: 'model',
      created: this.catalogue.created,
      owned_by: m.ownedBy,
      switchyard: {
        resident: workers > 0,
        workers,
        context_window: m.contextWindow,
        pool,
        ...(depth ? { queued: depth.queued } : {}),
      },
    };
  }
}
