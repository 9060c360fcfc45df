import path from 'node:path';
import fastifyMultipart from '@fastify/multipart';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { CatalogueModel } from '@switchyard/contracts';
import { loadModelCatalogue } from '@switchyard/config';
import { createHttpApp, type Logger } from '@switchyard/observability';
import { AppModule } from './app.module';
import type { BatchConfig } from './config/batch.config';
import { MAX_FILE_BYTES } from './files/files.service';

export interface RunningBatchApp {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

/** The model catalogue (`MODEL_CATALOGUE`, relative paths from the working directory). */
export function loadBatchCatalogue(config: Pick<BatchConfig, 'MODEL_CATALOGUE'>): CatalogueModel[] {
  return loadModelCatalogue(path.resolve(process.cwd(), config.MODEL_CATALOGUE));
}

/** Builds and starts the batch service. main.ts and tests use it. */
export async function startBatchApp(config: BatchConfig, catalogue: readonly CatalogueModel[], logger: Logger): Promise<RunningBatchApp> {
  const app = await createHttpApp(AppModule.forRoot(config, catalogue, logger), { logger, bodyLimit: 1024 * 1024 });
  // Nest's adapter runs its own copy of fastify: the plugin's types name the root package's.
  await app.register(fastifyMultipart as unknown as Parameters<NestFastifyApplication['register']>[0], {
    limits: { fileSize: MAX_FILE_BYTES, files: 1, fields: 10 },
  });
  await app.listen({ port: config.PORT, host: config.HOST });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  return { app, url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`, close: () => app.close() };
}
