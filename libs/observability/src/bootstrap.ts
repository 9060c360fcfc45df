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

/** What `exitOnFatalError` listens on and ends: the process, or a stand-in in tests. */
export interface FatalTarget {
  on(event: 'uncaughtException' | 'unhandledRejection', listener: (err: unknown) => void): unknown;
  exit(code: number): void;
}

/**
 * An error nothing caught (a throw out of a callback, a rejected promise nobody awaited) ends the
 * process as Node would (exit code 1, so the launcher or Kubernetes restarts it), but first logs it
 * as one `fatal` line of the service's own log, and runs `lastWords` (a leader hands its lease over)
 * for at most `graceMs`. A second such error while the last words run ends it at once.
 */
export function exitOnFatalError(logger: Logger, lastWords: () => Promise<unknown> = async () => undefined, graceMs = 1000, target: FatalTarget = process): void {
  let dying = false;
  const die = (kind: string) => (err: unknown) => {
    if (dying) return target.exit(1);
    dying = true;
    logger.fatal({ err, kind }, 'exiting on an error nothing caught');
    // Not unref'd: it also keeps the process from ending by itself (with code 0) before the exit.
    const timer = setTimeout(() => target.exit(1), graceMs);
    void lastWords()
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(timer);
        logger.flush?.();
        target.exit(1);
      });
  };
  target.on('uncaughtException', die('uncaughtException'));
  target.on('unhandledRejection', die('unhandledRejection'));
}
