import { loadConfigOrExit } from '@switchyard/config';
import path from 'node:path';
import { loadLauncherConfig, REPO_ROOT, simulatedGpus } from './launcher.config';
import { freeConsecutivePorts, offsetAddress } from './ports';
import { describeExit, ProcessGroup } from './process-group';
import { httpReady, waitReady } from './readiness';
import { REDIS_INSTALL_HINT, redisAnswers, redisServerInstalled, redisSocketPath } from './redis';
import { persistentSecret, randomToken } from './secrets';

/**
 * `npm start`: the whole platform on one machine. Redis (started if none answers), simulated GPUs
 * unless OLLAMA_URLS is set, then auth, the scheduler replicas, the batch service, one worker per GPU and the edge,
 * each a child process logging to LOG_DIR, started in order and each awaited until its /readyz says
 * ready. Once all are up, a service that crashes is restarted with backoff (left down after a
 * crash loop) while the others keep running. Ctrl-C stops everything in reverse order.
 */

const RUN_TS = path.join(REPO_ROOT, 'tools/scripts/run-ts.mjs');
const say = (msg: string) => process.stdout.write(`${msg}\n`);

async function main() {
  const cfg = loadConfigOrExit(loadLauncherConfig);

  let shuttingDown = false;
  const group = new ProcessGroup({
    logDir: cfg.LOG_DIR,
    say,
    onStartupExit: (s, status) => {
      if (shuttingDown) return;
      say(`✗ ${s.name} exited unexpectedly (${describeExit(status)}). Last lines of ${s.logFile}:\n${ProcessGroup.tail(s.logFile)}`);
      void shutdown(1);
    },
  });
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say('Stopping Switchyard…');
    await group.stopAll();
    say('Stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  const node = process.execPath;
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: cfg.REDIS_URL,
    SWITCHYARD_PREFIX: cfg.SWITCHYARD_PREFIX,
    LOG_LEVEL: cfg.LOG_LEVEL,
    MODEL_CATALOGUE: cfg.MODEL_CATALOGUE,
    AUTH_GRPC_URL: cfg.AUTH_GRPC_URL,
    HOST: cfg.HOST,
  };
  delete baseEnv.SCHEDULER_GRPC_URL; // each scheduler replica and the workers get their own below
  const http = (p: number) => `http://127.0.0.1:${p}`;
  const ready = (url: string) => () => httpReady(url);

  try {
    // 1. Redis
    say(`• Redis at ${cfg.REDIS_URL}…`);
    if (!(await redisAnswers(cfg.REDIS_URL))) {
      const u = new URL(cfg.REDIS_URL);
      const local = ['127.0.0.1', 'localhost', '::1'].includes(u.hostname);
      if (!local || !redisServerInstalled()) {
        say(`✗ Nothing answers at ${cfg.REDIS_URL}.\n${REDIS_INSTALL_HINT}`);
        process.exit(1);
      }
      const port = u.port || '6379';
      // The services reach this Redis through its unix socket (each command costs less system time than
      // over TCP); it listens on the TCP port too, for redis-cli and a restarted launcher.
      const socket = redisSocketPath(port);
      const redis = group.start({
        name: 'redis',
        command: 'redis-server',
        args: ['--bind', '127.0.0.1', '--port', port, '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
        env: process.env,
        ready: () => redisAnswers(cfg.REDIS_URL),
      });
      await waitReady(redis, cfg.REDIS_URL, 10000).catch(() => {
        throw new Error(`redis-server did not start; see ${redis.logFile}`);
      });
      baseEnv.REDIS_URL = `unix://${socket}`;
      say(`  ✓ started redis-server on port ${port} for this session (services connect through ${socket})`);
    } else say('  ✓ Redis answers');

    // 2. GPUs: real Ollama servers, or simulated ones on fixed ports (a restart keeps its URLs)
    let ollamaUrls = cfg.OLLAMA_URLS;
    /** Each simulated GPU's memory, told to its worker (no nvidia-smi answers for a simulated GPU). */
    let simulatedGpuGb: number | undefined;
    if (!ollamaUrls) {
      const gpus = simulatedGpus(cfg);
      const performance = cfg.SIM_PERFORMANCE_GPUS > 0 ? ` (the last ${cfg.SIM_PERFORMANCE_GPUS} for the performance pool)` : '';
      say(`• No OLLAMA_URLS: starting ${gpus} simulated GPUs${performance} (tools/ollama-sim, time scale ${cfg.SIM_TIME_SCALE})…`);
      const simPort = cfg.SIM_PORT || (await freeConsecutivePorts(gpus));
      const simUrls = Array.from({ length: gpus }, (_, i) => http(simPort + i));
      const urls = await new Promise<string[]>((resolve, reject) => {
        const sim = group.start({
          name: 'ollama-sim',
          command: node,
          args: [RUN_TS, 'tools/ollama-sim/src/main.ts', '--gpus', String(gpus), '--port', String(simPort), '--time-scale', String(cfg.SIM_TIME_SCALE), '--num-parallel', String(cfg.WORKER_SLOTS), '--vram-gb', String(cfg.SIM_VRAM_GB)],
          env: { ...process.env, LOG_LEVEL: cfg.LOG_LEVEL },
          ready: async () => (await Promise.all(simUrls.map((u) => httpReady(`${u}/api/version`)))).every(Boolean),
          onStdoutLine: (line) => {
            if (!line.startsWith('{"event":"listening"')) return;
            resolve((JSON.parse(line) as { urls: string[] }).urls);
          },
        });
        void sim.current.exited.then((s) => reject(new Error(`the simulator exited (${describeExit(s)}); see ${sim.logFile}`)));
        setTimeout(() => reject(new Error(`the simulator did not start in 60s; see ${sim.logFile}`)), 60000).unref();
      });
      ollamaUrls = urls;
      simulatedGpuGb = cfg.SIM_VRAM_GB;
      say(`  ✓ simulated Ollama at ${urls.join(', ')} (${cfg.SIM_VRAM_GB} GB of GPU memory each)`);
    } else say(`• Fronting Ollama at ${ollamaUrls.join(', ')}`);

    // 3. Auth (PGlite unless DATABASE_URL), with the demo key and the admin token
    const dataDir = path.dirname(cfg.AUTH_DATA_DIR);
    const demoKey = persistentSecret(cfg.SWITCHYARD_DEMO_KEY, path.join(dataDir, 'demo-key'), () => randomToken('sk-'));
    const adminToken = persistentSecret(cfg.SWITCHYARD_ADMIN_TOKEN, path.join(dataDir, 'admin-token'), () => randomToken('sya-'));
    say(`• auth (${cfg.DATABASE_URL ? 'PostgreSQL from DATABASE_URL' : `PGlite in ${cfg.AUTH_DATA_DIR}`})…`);
    const authEnv: NodeJS.ProcessEnv = { ...baseEnv, PORT: String(cfg.AUTH_PORT), AUTH_DATA_DIR: cfg.AUTH_DATA_DIR, SWITCHYARD_DEMO_KEY: demoKey.value, SWITCHYARD_ADMIN_TOKEN: adminToken.value };
    if (cfg.DATABASE_URL) authEnv.DATABASE_URL = cfg.DATABASE_URL;
    const authReady = `${http(cfg.AUTH_PORT)}/readyz`;
    const auth = group.start({ name: 'auth', command: node, args: [RUN_TS, 'apps/auth/src/main.ts'], env: authEnv, ready: ready(authReady) });
    await waitReady(auth, authReady);
    say(`  ✓ auth ready (admin API ${http(cfg.AUTH_PORT)}/admin/v1, gRPC ${cfg.AUTH_GRPC_URL})`);

    // 4. Scheduler replicas: one leads (a Redis lease), the others stand by
    say(`• scheduler (${cfg.SCHEDULER_REPLICAS} ${cfg.SCHEDULER_REPLICAS === 1 ? 'replica' : 'replicas'})…`);
    const schedulers = Array.from({ length: cfg.SCHEDULER_REPLICAS }, (_, i) => {
      const name = `scheduler-${i}`;
      const grpc = offsetAddress(cfg.SCHEDULER_GRPC_URL, i);
      const readyUrl = `${http(cfg.SCHEDULER_PORT + i)}/readyz`;
      const env = { ...baseEnv, PORT: String(cfg.SCHEDULER_PORT + i), SCHEDULER_GRPC_URL: grpc, SCHEDULER_REPLICA_ID: name };
      return { grpc, readyUrl, service: group.start({ name, command: node, args: [RUN_TS, 'apps/scheduler/src/main.ts'], env, ready: ready(readyUrl) }) };
    });
    for (const r of schedulers) await waitReady(r.service, r.readyUrl);
    const schedulerGrpcUrls = schedulers.map((r) => r.grpc);
    say(`  ✓ ${schedulers.map((r) => r.service.name).join(', ')} ready (gRPC ${schedulerGrpcUrls.join(', ')})`);

    // 4b. The batch service (Files and Batch APIs), called only by the edge with a shared secret
    const batchToken = persistentSecret(cfg.BATCH_INTERNAL_TOKEN, path.join(dataDir, 'batch-internal-token'), () => randomToken('syb-'));
    say(`• batch (${cfg.DATABASE_URL ? 'PostgreSQL from DATABASE_URL' : `PGlite in ${cfg.BATCH_DATA_DIR}`})…`);
    const batchEnv: NodeJS.ProcessEnv = { ...baseEnv, PORT: String(cfg.BATCH_PORT), BATCH_DATA_DIR: cfg.BATCH_DATA_DIR, BATCH_INTERNAL_TOKEN: batchToken.value };
    if (cfg.DATABASE_URL) batchEnv.DATABASE_URL = cfg.DATABASE_URL;
    const batchReady = `${http(cfg.BATCH_PORT)}/readyz`;
    const batch = group.start({ name: 'batch', command: node, args: [RUN_TS, 'apps/batch/src/main.ts'], env: batchEnv, ready: ready(batchReady) });
    await waitReady(batch, batchReady);
    say(`  ✓ batch ready (${http(cfg.BATCH_PORT)}, behind the edge's /v1/files and /v1/batches)`);

    // 5. One worker per GPU, each given every scheduler replica
    const workers = ollamaUrls.map((url, i) => {
      const pool = !cfg.OLLAMA_URLS && i >= cfg.SIM_GPUS ? 'performance' : 'shared';
      say(`• worker gpu-${i} → ${url}${pool === 'performance' ? ' (performance pool)' : ''}…`);
      const readyUrl = `${http(cfg.WORKER_BASE_PORT + i)}/readyz`;
      const env = {
        ...baseEnv,
        PORT: String(cfg.WORKER_BASE_PORT + i),
        WORKER_ID: `gpu-${i}`,
        WORKER_POOL: pool,
        OLLAMA_URL: url,
        WORKER_SLOTS: String(cfg.WORKER_SLOTS),
        SCHEDULER_GRPC_URL: schedulerGrpcUrls.join(','),
        ...(simulatedGpuGb !== undefined ? { WORKER_GPU_MEMORY_GB: String(simulatedGpuGb) } : {}),
      };
      return { readyUrl, service: group.start({ name: `worker-${i}`, command: node, args: [RUN_TS, 'apps/worker/src/main.ts'], env, ready: ready(readyUrl) }) };
    });
    for (const w of workers) await waitReady(w.service, w.readyUrl);
    say(`  ✓ ${workers.length} worker(s) ready`);

    // 6. Edge
    say('• edge…');
    const edgeReady = `${http(cfg.PORT)}/readyz`;
    const edge = group.start({ name: 'edge', command: node, args: [RUN_TS, 'apps/edge/src/main.ts'], env: { ...baseEnv, PORT: String(cfg.PORT), BATCH_URL: http(cfg.BATCH_PORT), BATCH_INTERNAL_TOKEN: batchToken.value }, ready: ready(edgeReady) });
    await waitReady(edge, edgeReady);

    const base = `http://${cfg.HOST === '0.0.0.0' ? '127.0.0.1' : cfg.HOST}:${cfg.PORT}`;
    say(
      [
        '',
        '✓ Switchyard is ready',
        `  Base URL:  ${base}/v1   (also ${base}/api/)`,
        `  API key:   ${demoKey.value}   (${demoKey.source === 'env' ? 'from SWITCHYARD_DEMO_KEY' : `stored in ${path.join(dataDir, 'demo-key')}`})`,
        `  Admin:     ${http(cfg.AUTH_PORT)}/admin/v1 with the token ${adminToken.source === 'env' ? 'from SWITCHYARD_ADMIN_TOKEN' : `in ${path.join(dataDir, 'admin-token')}`}`,
        `  Logs:      ${cfg.LOG_DIR}`,
        '',
        'Try it:',
        `  curl ${base}/api/chat/completions -H "Authorization: Bearer ${demoKey.value}" -H "Content-Type: application/json" \\`,
        `    -d '{"model": "llama3.1:8b", "messages": [{"role": "user", "content": "Why is the sky blue?"}]}'`,
        '',
        'A service that crashes is restarted; Ctrl-C stops everything.',
      ].join('\n'),
    );
    group.supervise();
  } catch (err) {
    if (!shuttingDown) say(`✗ ${err instanceof Error ? err.message : String(err)}`);
    await shutdown(1);
  }
}

void main();
