import { loadConfigOrExit } from '@switchyard/config';
import path from 'node:path';
import { loadLauncherConfig, REPO_ROOT } from './launcher.config';
import { ManagedProcess, ProcessGroup } from './process-group';
import { REDIS_INSTALL_HINT, redisAnswers, redisServerInstalled } from './redis';
import { persistentSecret, randomToken } from './secrets';

/**
 * `npm start`: the whole platform on one machine. Redis (started if none answers), simulated GPUs
 * unless OLLAMA_URLS is set, then auth, scheduler, one worker per GPU and the edge, each a child
 * process logging to LOG_DIR, started in order and each awaited until its /readyz says ready.
 * Ctrl-C stops everything in reverse order.
 */

const RUN_TS = path.join(REPO_ROOT, 'tools/scripts/run-ts.mjs');
const say = (msg: string) => process.stdout.write(`${msg}\n`);

async function waitReady(url: string, proc: ManagedProcess, timeoutMs = 90000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (code ${proc.child.exitCode})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${proc.name} was not ready at ${url} after ${timeoutMs / 1000}s`);
}

async function main() {
  const cfg = loadConfigOrExit(loadLauncherConfig);

  let shuttingDown = false;
  const group = new ProcessGroup(cfg.LOG_DIR, (p, code) => {
    if (shuttingDown) return;
    say(`✗ ${p.name} exited unexpectedly (code ${code}). Last lines of ${p.logFile}:\n${ProcessGroup.tail(p.logFile)}`);
    void shutdown(1);
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
    SCHEDULER_GRPC_URL: cfg.SCHEDULER_GRPC_URL,
    HOST: cfg.HOST,
  };
  const http = (p: number) => `http://127.0.0.1:${p}`;

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
      const redis = group.start('redis', 'redis-server', ['--bind', '127.0.0.1', '--port', port, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], process.env);
      const deadline = Date.now() + 10000;
      while (!(await redisAnswers(cfg.REDIS_URL)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (!(await redisAnswers(cfg.REDIS_URL))) throw new Error(`redis-server did not start; see ${redis.logFile}`);
      say(`  ✓ started redis-server on port ${port} for this session`);
    } else say('  ✓ Redis answers');

    // 2. GPUs: real Ollama servers, or simulated ones
    let ollamaUrls = cfg.OLLAMA_URLS;
    if (!ollamaUrls) {
      say(`• No OLLAMA_URLS: starting ${cfg.SIM_GPUS} simulated GPUs (tools/ollama-sim, time scale ${cfg.SIM_TIME_SCALE})…`);
      const urls = await new Promise<string[]>((resolve, reject) => {
        const sim = group.start(
          'ollama-sim',
          node,
          [RUN_TS, 'tools/ollama-sim/src/main.ts', '--gpus', String(cfg.SIM_GPUS), '--port', String(cfg.SIM_PORT), '--time-scale', String(cfg.SIM_TIME_SCALE), '--num-parallel', String(cfg.WORKER_SLOTS)],
          { ...process.env, LOG_LEVEL: cfg.LOG_LEVEL },
          (line) => {
            if (!line.startsWith('{"event":"listening"')) return;
            resolve((JSON.parse(line) as { urls: string[] }).urls);
          },
        );
        void sim.exited.then((code) => reject(new Error(`the simulator exited (code ${code}); see ${sim.logFile}`)));
        setTimeout(() => reject(new Error(`the simulator did not start in 60s; see ${sim.logFile}`)), 60000).unref();
      });
      ollamaUrls = urls;
      say(`  ✓ simulated Ollama at ${urls.join(', ')}`);
    } else say(`• Fronting Ollama at ${ollamaUrls.join(', ')}`);

    // 3. Auth (PGlite unless DATABASE_URL), with the demo key and the admin token
    const dataDir = path.dirname(cfg.AUTH_DATA_DIR);
    const demoKey = persistentSecret(cfg.SWITCHYARD_DEMO_KEY, path.join(dataDir, 'demo-key'), () => randomToken('sk-'));
    const adminToken = persistentSecret(cfg.SWITCHYARD_ADMIN_TOKEN, path.join(dataDir, 'admin-token'), () => randomToken('sya-'));
    say(`• auth (${cfg.DATABASE_URL ? 'PostgreSQL from DATABASE_URL' : `PGlite in ${cfg.AUTH_DATA_DIR}`})…`);
    const authEnv: NodeJS.ProcessEnv = { ...baseEnv, PORT: String(cfg.AUTH_PORT), AUTH_DATA_DIR: cfg.AUTH_DATA_DIR, SWITCHYARD_DEMO_KEY: demoKey.value, SWITCHYARD_ADMIN_TOKEN: adminToken.value };
    if (cfg.DATABASE_URL) authEnv.DATABASE_URL = cfg.DATABASE_URL;
    const auth = group.start('auth', node, [RUN_TS, 'apps/auth/src/main.ts'], authEnv);
    await waitReady(`${http(cfg.AUTH_PORT)}/readyz`, auth);
    say(`  ✓ auth ready (admin API ${http(cfg.AUTH_PORT)}/admin/v1, gRPC ${cfg.AUTH_GRPC_URL})`);

    // 4. Scheduler
    say('• scheduler…');
    const scheduler = group.start('scheduler', node, [RUN_TS, 'apps/scheduler/src/main.ts'], { ...baseEnv, PORT: String(cfg.SCHEDULER_PORT) });
    await waitReady(`${http(cfg.SCHEDULER_PORT)}/readyz`, scheduler);
    say(`  ✓ scheduler ready (gRPC ${cfg.SCHEDULER_GRPC_URL})`);

    // 5. One worker per GPU
    const workers = ollamaUrls.map((url, i) => {
      say(`• worker gpu-${i} → ${url}…`);
      return {
        port: cfg.WORKER_BASE_PORT + i,
        proc: group.start(`worker-${i}`, node, [RUN_TS, 'apps/worker/src/main.ts'], {
          ...baseEnv,
          PORT: String(cfg.WORKER_BASE_PORT + i),
          WORKER_ID: `gpu-${i}`,
          OLLAMA_URL: url,
          WORKER_SLOTS: String(cfg.WORKER_SLOTS),
        }),
      };
    });
    for (const w of workers) await waitReady(`${http(w.port)}/readyz`, w.proc);
    say(`  ✓ ${workers.length} worker(s) ready`);

    // 6. Edge
    say('• edge…');
    const edge = group.start('edge', node, [RUN_TS, 'apps/edge/src/main.ts'], { ...baseEnv, PORT: String(cfg.PORT) });
    await waitReady(`${http(cfg.PORT)}/readyz`, edge);

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
        'Ctrl-C stops everything.',
      ].join('\n'),
    );
  } catch (err) {
    say(`✗ ${err instanceof Error ? err.message : String(err)}`);
    await shutdown(1);
  }
}

void main();
