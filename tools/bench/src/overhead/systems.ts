/**
 * The three systems the overhead benchmark puts side by side, each started as its own processes:
 * the fast Ollama simulator (called directly, and the backend of the two others), Portkey's
 * open-source gateway (the pinned devDependency, run from node_modules), and the Switchyard stack
 * exactly as `npm start` runs it (tools/launcher) in front of that same simulator, on free ports, a
 * fresh prefix, its own redis-server and a temporary data folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, freePortRange } from '@switchyard/testing';

export const REPO_ROOT = path.resolve(__dirname, '../../../..');
const RUN_TS = path.join(REPO_ROOT, 'tools/scripts/run-ts.mjs');

/** Every child still running, stopped on this process's exit even when it ends by an error. */
const running = new Map<ChildProcess, NodeJS.Signals>();
/** What else to stop then: the launcher's services (the launcher, writing to a closed pipe, may not outlive us long enough). */
const alsoOnExit = new Set<() => void>();
process.on('exit', () => {
  for (const [child, signal] of running) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  for (const stop of alsoOnExit) stop();
});

function track(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): ChildProcess {
  running.set(child, signal);
  child.once('exit', () => running.delete(child));
  return child;
}

export interface Started {
  url: string;
  /** The processes that serve it, by name (`edge`, `worker-0`, `redis`, …). */
  pids(): Record<string, number>;
  stop(): Promise<void>;
}

/** Resolves with what `match` finds in the child's output (stdout and stderr); rejects if it exits first or after `timeoutMs`. */
function waitForOutput(child: ChildProcess, label: string, match: (out: string) => string | undefined, timeoutMs: number): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start within ${timeoutMs / 1000} s:\n${out.slice(-3000)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out = (out + d.toString()).slice(-200_000);
      const found = match(out);
      if (found === undefined) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      // Keep draining, so a chatty child never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
      resolve(found);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? signal}):\n${out.slice(-3000)}`));
    });
  });
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', killAfterMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill(signal);
  });
}

export interface SimulatorOptions {
  timeScale: number;
  /** The simulator's default num_ctx: the catalogue's window, so direct calls (which cannot set it) share the worker's runner. */
  contextLength: number;
  numParallel: number;
}

/** One simulated GPU (tools/ollama-sim) on a free port, models kept loaded forever. */
export async function startSimulator(o: SimulatorOptions): Promise<Started & { pid: number }> {
  const args = ['tools/ollama-sim/src/main.ts', '--port', '0', '--time-scale', String(o.timeScale), '--context-length', String(o.contextLength), '--num-parallel', String(o.numParallel), '--keep-alive', '-1', '--max-queue', '4096', '--log-level', 'warn'];
  const child = track(spawn(process.execPath, [RUN_TS, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  const url = await waitForOutput(child, 'ollama-sim', (out) => /"event":"listening","urls":\["([^"]+)"/.exec(out)?.[1], 60_000);
  const pid = child.pid ?? 0;
  return { url, pid, pids: () => ({ 'ollama-sim': pid }), stop: () => stopChild(child) };
}

/** Portkey's gateway (`@portkey-ai/gateway`, build/start-server.js) on a free port, without its UI. */
export async function startPortkey(): Promise<Started> {
  const port = await freePort();
  const entry = path.join(path.dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build/start-server.js');
  const child = track(spawn(process.execPath, [entry, `--port=${port}`, '--headless'], { cwd: REPO_ROOT, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] }));
  await waitForOutput(child, 'portkey', (out) => (out.includes('Ready for connections') ? 'ready' : undefined), 60_000);
  const pid = child.pid ?? 0;
  return { url: `http://127.0.0.1:${port}`, pids: () => ({ portkey: pid }), stop: () => stopChild(child) };
}

export interface StackOptions {
  ollamaUrl: string;
  /** More environment for every service (EDGE_QUEUE_BOUND, NODE_OPTIONS for --cpu-prof, …). */
  env?: NodeJS.ProcessEnv;
  /** Leave the data and log folder in place after the stack stops. */
  keepLogs?: boolean;
}

/**
 * The Switchyard stack as `npm start` runs it (tools/launcher): its own redis-server, auth, the
 * scheduler replicas, the batch service, one worker for the simulator and the edge, each on a free
 * port, with a fresh prefix, data folder and demo key. Resolves when the launcher says it is ready.
 */
export async function startSwitchyard(o: StackOptions): Promise<Started & { key: string; logDir: string; redisUrl: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-overhead-'));
  const logDir = path.join(dir, 'logs');
  const key = `sk-bench${randomBytes(16).toString('hex')}`;
  const edge = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(edge),
    AUTH_PORT: String(await freePort()),
    BATCH_PORT: String(await freePort()),
    SCHEDULER_PORT: String(await freePortRange(2)),
    SCHEDULER_GRPC_URL: `127.0.0.1:${await freePortRange(2)}`,
    WORKER_BASE_PORT: String(await freePortRange(1)),
    AUTH_GRPC_URL: `127.0.0.1:${await freePort()}`,
    // Nothing answers on a fresh port: the launcher starts a redis-server of its own, so Redis's CPU is this stack's alone.
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    OLLAMA_URLS: o.ollamaUrl,
    SWITCHYARD_PREFIX: `oh${randomBytes(4).toString('hex')}`,
    AUTH_DATA_DIR: path.join(dir, 'auth'),
    BATCH_DATA_DIR: path.join(dir, 'batch'),
    LOG_DIR: logDir,
    SWITCHYARD_DEMO_KEY: key,
  };
  // npm start's own defaults (PGlite, a generated batch token) unless the caller says otherwise.
  delete env.DATABASE_URL;
  delete env.BATCH_URL;
  delete env.BATCH_INTERNAL_TOKEN;
  Object.assign(env, o.env);
  // SIGINT: the launcher stops its services in reverse order, as on Ctrl-C.
  const child = track(spawn(process.execPath, [RUN_TS, path.join(REPO_ROOT, 'tools/launcher/src/main.ts')], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }), 'SIGINT');
  const pids = () => JSON.parse(readFileSync(path.join(logDir, 'pids.json'), 'utf8')) as Record<string, number>;
  const killServices = () => {
    try {
      for (const pid of Object.values(pids())) process.kill(pid, 'SIGTERM');
    } catch {
      // not started yet, or already gone
    }
  };
  alsoOnExit.add(killServices);
  const stop = async () => {
    await stopChild(child, 'SIGINT', 60_000);
    alsoOnExit.delete(killServices);
    if (!o.keepLogs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForOutput(child, 'the Switchyard stack', (out) => (out.includes('Switchyard is ready') ? 'ready' : undefined), 180_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `http://127.0.0.1:${edge}`, key, logDir, redisUrl: String(env.REDIS_URL), pids, stop };
}
