import type { IncomingMessage } from 'node:http';
import { DynamicModule, INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { PinoNestLogger } from './logger';
import { acceptOrCreateRequestId, runWithRequestId } from './request-context';
import { ReadinessService } from './health.module';

export interface HttpAppOptions {
  logger: Logger;
  /** Largest request body accepted, in bytes (Fastify answers 413 above it). */
  bodyLimit?: number;
  /**
   * Answers what Fastify refuses while routing, before any hook or Nest filter runs (a path that is
   * not valid percent-encoding, `FST_ERR_BAD_URL`). It runs with the request id set, in the logs
   * and in `x-request-id`; without it Fastify answers its own (non-OpenAI) error body.
   */
  frameworkErrors?: FrameworkErrorHandler;
}

export type FrameworkErrorHandler = (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void;

/**
 * Creates a NestJS app on Fastify with the house defaults: pino logging, a request id on every
 * request (taken from `x-request-id` when sane, else new) echoed in the response and carried into
 * every log line, and shutdown hooks so SIGTERM drains the service.
 */
export async function createHttpApp(rootModule: Type<unknown> | DynamicModule, opts: HttpAppOptions): Promise<NestFastifyApplication> {
  const onFrameworkError = opts.frameworkErrors;
  const adapter = new FastifyAdapter({
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // Clients that join a base URL ending in "/" with a path starting with "/" send "//".
    routerOptions: { ignoreDuplicateSlashes: true },
    genReqId: (req: IncomingMessage) => acceptOrCreateRequestId(req.headers['x-request-id']),
    // Nest's adapter runs its own copy of fastify: its request and reply differ from the root
    // package's only in their type declarations.
    frameworkErrors:
      onFrameworkError &&
      ((error: FastifyError, request: { id: string }, reply: { header(name: string, value: string): unknown }) => {
        void reply.header('x-request-id', request.id);
        runWithRequestId(String(request.id), () => onFrameworkError(error, request as unknown as FastifyRequest, reply as unknown as FastifyReply));
      }),
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
