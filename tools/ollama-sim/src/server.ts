/**
 * One Fastify app per simulated GPU, and `startSimulator`, which starts N of them (the CLI and the
 * tests both use it).
 */
import Fastify, { FastifyBaseLogger, FastifyInstance, LogController } from 'fastify';
import type { AddressInfo } from 'node:net';
import pino, { Logger } from 'pino';
import { Catalogue, DEFAULT_CATALOGUE_PATH, loadCatalogue, SimModel } from './catalogue';
import { resolveConfig, SimulatorConfig, SimulatorOptions } from './config';
import { SimContext } from './generation';
import { Gpu } from './gpu';
import { registerNativeRoutes } from './native.routes';
import { registerOpenAiRoutes } from './openai.routes';
import { SimStats } from './stats';

/** One simulated GPU and the Ollama server in front of it. */
export interface SimGpu {
  index: number;
  url: string;
  gpu: Gpu;
  stats: SimStats;
  app: FastifyInstance;
}

export interface RunningSimulator {
  urls: string[];
  gpus: SimGpu[];
  config: SimulatorConfig;
  close(): Promise<void>;
}

/** Everything /sim/stats reports for one GPU. */
export function gpuStats(g: Pick<SimGpu, 'index' | 'url' | 'gpu' | 'stats'>, config: SimulatorConfig): Record<string, unknown> {
  return {
    gpu: g.index,
    url: g.url,
    units: { '*_sim': 'simulated seconds (real seconds x time_scale)', '*_real': 'real, unscaled seconds' },
    time_scale: config.timeScale,
    vram_bytes: g.gpu.cfg.vramBytes,
    vram_used_bytes: g.gpu.usedBytes(),
    queue_depth: g.gpu.queueDepth(),
    config: {
      num_parallel: config.numParallel,
      max_queue: config.maxQueue,
      max_loaded: config.maxLoaded,
      keep_alive_seconds: Number.isFinite(config.keepAlive) ? config.keepAlive : -1,
      context_length: config.contextLength,
      load_bandwidth_gbps: config.loadBandwidthGBps,
      load_startup_s: config.loadStartupS,
      parallel_exponent: config.parallelExponent,
      compute_sharing: config.computeSharing,
      fit_fraction: config.fitFraction,
      cpu_gen_slowdown: config.cpuGenSlowdown,
      cpu_prompt_slowdown: config.cpuPromptSlowdown,
      seed: config.seed,
    },
    loaded: g.gpu.runnerInfos().map((r) => ({
      model: r.model.name,
      state: r.state,
      num_ctx: r.numCtx,
      size: r.sizeBytes,
      size_vram: r.sizeVram,
      gpu_fraction: r.gpuFraction,
      gen_tokens_per_s: r.genTokensPerS,
      busy_slots: r.busySlots,
      waiting_for_slot: r.waiting,
      keep_alive_seconds: Number.isFinite(r.keepAliveS) ? r.keepAliveS : -1,
      expires_at: new Date(Math.min(r.expiresAt, 8.64e15)).toISOString(),
    })),
    ...g.stats.snapshot(),
  };
}

function buildApp(ctx: SimContext, logger: Logger, all: () => SimGpu[], self: () => SimGpu, config: SimulatorConfig): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024 * 1024,
    forceCloseConnections: true,
  });
  // Ollama reads the body whatever its content type; handlers parse it (for Ollama's own 400s).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).type('text/plain').send('404 page not found');
  });
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    void reply.code(err.statusCode ?? 500).send({ error: err.message });
  });

  registerNativeRoutes(app, ctx);
  registerOpenAiRoutes(app, ctx);

  const scopeAll = (q: unknown) => typeof q === 'object' && q !== null && (q as Record<string, unknown>).scope === 'all';
  app.get('/sim/stats', async (req) => (scopeAll(req.query) ? { gpus: all().map((g) => gpuStats(g, config)) } : gpuStats(self(), config)));
  app.post('/sim/reset', async (req) => {
    for (const g of scopeAll(req.query) ? all() : [self()]) g.stats.reset();
    return { ok: true };
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await ctx.stats.registry.metrics();
    return reply.type(ctx.stats.registry.contentType).send(body);
  });
  return app;
}

/** Starts `gpus` simulated Ollama servers; resolves once all listen. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const config = resolveConfig(options);
  const models: SimModel[] = loadCatalogue(config.models ?? DEFAULT_CATALOGUE_PATH);
  const catalogue = new Catalogue(models);
  const logger = pino({ level: config.logLevel, base: { service: 'ollama-sim' } }, pino.destination(2));
  const modifiedAt = new Date();
  const gpus: SimGpu[] = [];
  try {
    for (let index = 0; index < config.gpus; index++) {
      const vramBytes = config.vramGb * 1e9;
      const stats = new SimStats(index, config.timeScale, vramBytes);
      const gpu = new Gpu(
        {
          index,
          vramBytes,
          numParallel: config.numParallel,
          maxQueue: config.maxQueue,
          maxLoaded: config.maxLoaded,
          keepAliveS: config.keepAlive,
          timeScale: config.timeScale,
          loadBandwidthGBps: config.loadBandwidthGBps,
          loadStartupS: config.loadStartupS,
          parallelExponent: config.parallelExponent,
          computeSharing: config.computeSharing,
          fitFraction: config.fitFraction,
          contextLength: config.contextLength,
          cpuGenSlowdown: config.cpuGenSlowdown,
          cpuPromptSlowdown: config.cpuPromptSlowdown,
        },
        stats,
        logger.child({ gpu: index }),
      );
      stats.attachGauges({
        loadedModels: () => gpu.runnerInfos().length,
        queueDepth: () => gpu.queueDepth(),
        usedBytes: () => gpu.usedBytes(),
        busySlots: () => gpu.runnerInfos().map((r) => ({ model: r.model.name, busy: r.busySlots })),
      });
      const ctx: SimContext = { gpu, catalogue, stats, seed: config.seed, timeScale: config.timeScale, modifiedAt };
      const entry = { index, url: '', gpu, stats } as SimGpu;
      entry.app = buildApp(ctx, logger.child({ gpu: index }), () => gpus, () => entry, config);
      gpus.push(entry);
      await entry.app.listen({ port: config.port === 0 ? 0 : config.port + index, host: config.host });
      const addr = entry.app.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      entry.url = `http://${host}:${addr.port}`;
    }
  } catch (err) {
    await Promise.all(gpus.map((g) => g.app.close().catch(() => undefined)));
    for (const g of gpus) g.gpu.close();
    throw err;
  }
  logger.info({ urls: gpus.map((g) => g.url), models: models.length, timeScale: config.timeScale }, 'ollama simulator listening');
  let closing: Promise<void> | undefined;
  return {
    urls: gpus.map((g) => g.url),
    gpus,
    config,
    close: () => {
      closing ??= (async () => {
        // Refuse waiting requests and end running streams with an error line, let those answers
        // reach the sockets, then close the servers (which drops idle keep-alive connections).
        for (const g of gpus) g.gpu.close();
        await new Promise((resolve) => setTimeout(resolve, 20));
        await Promise.all(gpus.map((g) => g.app.close()));
      })();
      return closing;
    },
  };
}
