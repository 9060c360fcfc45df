import { Controller, Get, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Model, ModelList } from '@switchyard/contracts';
import { AuthService } from '../auth/auth.service';
import { setRequestLabels } from '../metrics/request-labels';
import { ModelCatalogueService } from './model-catalogue.service';
import { ModelsService } from './models.service';

@Controller()
export class ModelsController {
  constructor(
    private readonly auth: AuthService,
    private readonly models: ModelsService,
    private readonly catalogue: ModelCatalogueService,
  ) {}

  @Get(['v1/models', 'api/models'])
  async list(@Req() request: FastifyRequest): Promise<ModelList> {
    const ctx = await this.auth.authenticate(request.headers.authorization);
    return this.models.list(ctx);
  }

  /** A wildcard, not `:id`: model ids hold ':' and '.', and could hold '/'. */
  @Get(['v1/models/*', 'api/models/*'])
  async get(@Req() request: FastifyRequest, @Param('*') id: string): Promise<Model> {
    const ctx = await this.auth.authenticate(request.headers.authorization);
    setRequestLabels(request.raw, { model: this.catalogue.label(id) });
    return this.models.get(ctx, id);
  }
}
