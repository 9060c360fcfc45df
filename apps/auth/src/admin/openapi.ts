import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { VERSION } from '../version';
import { AdminModule } from './admin.module';
import { OPENAPI_JSON_PATH } from './docs.controller';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Switchyard auth — admin API')
    .setDescription(
      'Users, API keys, per-key policy and usage. Every call needs `Authorization: Bearer <SWITCHYARD_ADMIN_TOKEN>`. ' +
        'Errors have one shape: `{error: {message, type, param, code}}`. A key is returned only once, when it is created or rotated.',
    )
    .setVersion(VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'the admin token' })
    .build();
  return SwaggerModule.createDocument(app, config, { include: [AdminModule] });
}

/** Serves the OpenAPI document at /admin/docs/openapi.json (the UI is DocsController's). */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup('admin/docs', app, () => buildOpenApiDocument(app), { ui: false, raw: ['json'], jsonDocumentUrl: OPENAPI_JSON_PATH });
}
