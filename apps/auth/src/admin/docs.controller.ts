import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Controller, Get, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';

export const DOCS_PATH = '/admin/docs';
export const OPENAPI_JSON_PATH = `${DOCS_PATH}/openapi.json`;

/** swagger-ui-dist, resolved from @nestjs/swagger (whose dependency it is). */
function swaggerUiDir(): string {
  const fromSwagger = createRequire(require.resolve('@nestjs/swagger'));
  return path.dirname(fromSwagger.resolve('swagger-ui-dist/package.json'));
}

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Switchyard auth — admin API</title>
<link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css"><link rel="icon" href="${DOCS_PATH}/favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/init.js"></script>
</body></html>`;

const INIT = `window.ui = SwaggerUIBundle({ url: '${OPENAPI_JSON_PATH}', dom_id: '#swagger-ui' });`;

/**
 * Swagger UI for the admin API at /admin/docs, from the swagger-ui-dist files @nestjs/swagger
 * ships (Fastify's static plugin is not needed). The OpenAPI document is at /admin/docs/openapi.json.
 */
@ApiExcludeController()
@Controller(DOCS_PATH.slice(1))
export class DocsController {
  private readonly cache = new Map<string, Buffer>();

  @Get()
  page(@Res() reply: FastifyReply): void {
    void reply.type('text/html; charset=utf-8').send(PAGE);
  }

  @Get('init.js')
  init(@Res() reply: FastifyReply): void {
    void reply.type('application/javascript; charset=utf-8').send(INIT);
  }

  @Get(':asset')
  asset(@Param('asset') asset: string, @Res() reply: FastifyReply): void {
    const type = Object.prototype.hasOwnProperty.call(ASSETS, asset) ? ASSETS[asset] : undefined;
    if (!type) throw new NotFoundException('No such document.');
    let body = this.cache.get(asset);
    if (!body) {
      body = readFileSync(path.join(swaggerUiDir(), asset));
      this.cache.set(asset, body);
    }
    void reply.type(type).header('cache-control', 'public, max-age=3600').send(body);
  }
}
