import { Controller, Get, Param, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Model, ModelList } from '@switchyard/contracts';
import type { AuthContext } from '../auth/auth.service';
import { setRequestLabels } from '../metrics/request-labels';
import { ApiKeyGuard, Caller } from '../pipeline/api-key.guard';
import { ModelCatalogueService } from './model-catalogue.service';
import { ModelsService } from './models.service';

@Controller()
@UseGuards(ApiKeyGuard)
export class ModelsController {
  constructor(
    private readonly models: ModelsService,
    private readonly catalogue: ModelCatalogueService,
  ) {}

  @Get(['v1/models', 'api/models'])
  list(@Caller() ctx: AuthContext): Promise<ModelList> {
    return this.models.list(ctx);
  }

  /** A wildcard, not `:id`: model ids hold ':' and '.', and could hold '/'. */
  @Get(['v1/models/*', 'api/models/*'])
  get(@Req() request: FastifyRequest, @Param('*') id: string, @Caller() ctx: AuthContext): Promise<Model> {
    setRequestLabels(request.raw, { model: this.catalogue.label(id) });
    return this.models.get(ctx, id);
  }
}
