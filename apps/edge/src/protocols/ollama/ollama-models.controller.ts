import { Controller, Delete, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthContext } from '../../auth/auth.service';
import { setRequestLabels } from '../../metrics/request-labels';
import { ModelCatalogueService } from '../../models/model-catalogue.service';
import { ApiKeyGuard, Caller } from '../../pipeline/api-key.guard';
import { OllamaErrors, parseOllama } from './ollama-errors';
import { OLLAMA_API_VERSION, OllamaModelsService } from './ollama-models.service';
import { showRequestSchema } from './ollama-requests.schema';

/**
 * Ollama's model routes: the catalogue (`/api/tags`), what is resident across the pool (`/api/ps`),
 * one model's card (`/api/show`), the version; and the model-management routes, which are refused:
 * the operators manage the catalogue.
 */
@Controller()
@UseGuards(ApiKeyGuard)
export class OllamaModelsController {
  constructor(
    private readonly models: OllamaModelsService,
    private readonly catalogue: ModelCatalogueService,
  ) {}

  @Get('api/tags')
  tags(@Req() request: FastifyRequest, @Caller() ctx: AuthContext): object {
    setRequestLabels(request.raw, { model: 'all' });
    return this.models.tags(ctx);
  }

  @Get('api/ps')
  ps(@Req() request: FastifyRequest, @Caller() ctx: AuthContext): Promise<object> {
    setRequestLabels(request.raw, { model: 'all' });
    return this.models.ps(ctx);
  }

  @Post('api/show')
  @HttpCode(200)
  show(@Req() request: FastifyRequest, @Caller() ctx: AuthContext): object {
    const body = parseOllama(showRequestSchema, request.body);
    const name = body.model || body.name;
    if (!name) throw OllamaErrors.modelRequired();
    setRequestLabels(request.raw, { model: this.catalogue.label(name) });
    return this.models.show(ctx, name);
  }

  @Get('api/version')
  version(): object {
    return { version: OLLAMA_API_VERSION };
  }

  @Post(['api/pull', 'api/push', 'api/create', 'api/copy', 'api/blobs/*'])
  manage(): never {
    throw OllamaErrors.managedCatalogue();
  }

  @Delete('api/delete')
  delete(): never {
    throw OllamaErrors.managedCatalogue();
  }
}
