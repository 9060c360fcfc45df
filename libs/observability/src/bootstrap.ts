import type { IncomingMessage } from 'node:http';
import { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { PinoNestLogger } from './logger';
import { acceptOrCreateRequestId, runWithRequestId } from './request-context';
import { ReadinessService } from './health.module';

export interface HttpAppOptions {
  logger: Logger;
  /** Largest request body accepted, in bytes (Fastify answers 413 above it). */
  bodyLimit?: number;
}

/**
 * Creates a NestJS app on Fastify with the house defaults: pino logging, a request id on every
 * request (taken from `x-request-id` when sane, else new) echoed in the response and carried into
 * every log line, and shutdown hooks so SIGTERM drains the service.
 */
export async function createHttpApp(rootModule: Type<unknown> | DynamicModule, opts: HttpAppOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // Clients that join a base URL ending in "/" with a path starting with "/" send "//".
    routerOptions: { ignoreDuplicateSlashes: true },
    genReqId: (req: IncomingMessage) => acceptOrCreateRequestId(req.headers['x-request-id']),
  });
  const fastify = adapter.getInstance();
  fastify.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', req.id);
    runWithRequestId(String(req.id), done);
  });
  const app = await NestFactory.create<NestFastifyApplication>(rootModule, adapter, {
    logger: new PinoNestLogger(opts.logger),
    abortOnError: false,
  });
  app.enableShutdownHooks();
  return app;
}

/** Marks the service not-ready as shutdown begins, so traffic drains before connections close. */
export function drainOnShutdown(app: INestApplication): void {
  const readiness = app.get(ReadinessService, { strict: false });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.prependListener(signal, () => readiness.markDraining());
}
