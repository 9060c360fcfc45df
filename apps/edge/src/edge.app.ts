import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp, type Logger } from '@switchyard/observability';
import { AppModule } from './app.module';
import type { EdgeConfig } from './config/edge.config';
import { drainBodyBeforeErrors, drainCap } from './errors/body-drain';
import { frameworkErrorHandler } from './errors/framework-errors';
import { OpenAIExceptionFilter, type RejectionSink } from './errors/openai-exception.filter';
import { EdgeMetrics } from './metrics/edge-metrics.service';
import { getRequestLabels, routeLabel } from './metrics/request-labels';

/**
 * Builds the edge application (not listening yet): NestJS on Fastify with the house defaults,
 * the body limit, OpenAI-shaped errors for everything, and per-request metrics. Used by main.ts,
 * the tests and the benchmark.
 */
export async function createEdgeApp(config: EdgeConfig, logger: Logger): Promise<NestFastifyApplication> {
  // Fastify's routing errors come before the app (and its metrics) exist; they count once it does.
  let onRejection: RejectionSink = () => undefined;
  const app = await createHttpApp(AppModule.forRoot(config, logger), {
    logger,
    bodyLimit: config.EDGE_MAX_BODY_BYTES,
    frameworkErrors: frameworkErrorHandler(logger, (reason) => onRejection(reason)),
  });
  const metrics = app.get(EdgeMetrics);
  onRejection = (reason) => metrics.rejections.inc({ reason });
  app.useGlobalFilters(new OpenAIExceptionFilter(logger, onRejection, config.EDGE_MAX_BODY_BYTES));
  drainBodyBeforeErrors(app, drainCap(config.EDGE_MAX_BODY_BYTES));
  // Nest registers its body parsers when the app initialises: replace its form parser after that.
  await app.init();
  acceptJsonSentAsForm(app, config.EDGE_MAX_BODY_BYTES);
  installRequestMetrics(app, metrics);
  return app;
}

/**
 * `curl -d '{...}'` without `-H 'Content-Type: application/json'` sends JSON labelled as a form —
 * exactly how Ollama's own README calls its API, and Ollama ignores the content type. Every route
 * here takes JSON, so a form-labelled body is read as JSON when it is JSON (else as a form, which
 * the route's validation then refuses in its API's shape).
 */
function acceptJsonSentAsForm(app: NestFastifyApplication, bodyLimit: number): void {
  const fastify = app.getHttpAdapter().getInstance();
  const type = 'application/x-www-form-urlencoded';
  if (fastify.hasContentTypeParser(type)) fastify.removeContentTypeParser(type);
  fastify.addContentTypeParser(type, { parseAs: 'string', bodyLimit }, (_request, body, done) => {
    const text = String(body);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(null, Object.fromEntries(new URLSearchParams(text)));
    }
  });
}

const UNMETERED = new Set(['/metrics', '/healthz', '/readyz']);

/** `switchyard_edge_requests_total` and `_request_duration_seconds`, recorded when a response ends. */
function installRequestMetrics(app: NestFastifyApplication, metrics: EdgeMetrics): void {
  app.getHttpAdapter().getInstance().addHook('onRequest', (request, reply, done) => {
    const path = request.url.split('?')[0];
    if (UNMETERED.has(path)) return done();
    const started = process.hrtime.bigint();
    reply.raw.once('close', () => {
      const labels = getRequestLabels(request.raw);
      const route = routeLabel(request.url);
      const model = labels.model ?? (route === 'models' ? 'all' : 'unknown');
      const status = labels.outcomeStatus ?? (reply.raw.writableFinished ? reply.raw.statusCode : 499);
      metrics.requests.inc({ route, model, status: String(status) });
      metrics.duration.observe({ route, model }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    done();
  });
}
