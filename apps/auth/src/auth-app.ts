import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp, type Logger } from '@switchyard/observability';
import { setupOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import type { AuthConfig } from './config/auth.config';
import { GrpcServerService } from './grpc/grpc-server.service';

export interface RunningAuthApp {
  app: NestFastifyApplication;
  /** Base URL of the HTTP server (admin API, docs, health, metrics). */
  httpUrl: string;
  /** `host:port` of the auth.v1 gRPC server. */
  grpcAddress: string;
  close(): Promise<void>;
}

/** Builds and starts the auth service: storage, gRPC server, admin API. main.ts, tests and the benchmark use it. */
export async function startAuthApp(config: AuthConfig, logger: Logger): Promise<RunningAuthApp> {
  const app = await createHttpApp(AppModule.forRoot(config, logger), { logger, bodyLimit: 256 * 1024 });
  setupOpenApi(app);
  await app.listen({ port: config.PORT, host: config.HOST });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  return {
    app,
    httpUrl: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    grpcAddress: app.get(GrpcServerService).address,
    close: () => app.close(),
  };
}
