import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, freePortRange } from '@switchyard/testing';

const ROOT = path.resolve(__dirname, '../../..');

/** A service the launcher runs, by the name it has in the launcher's console and LOG_DIR. */
export type ServiceName = 'edge' | 'auth' | 'batch' | 'ollama-sim' | 'redis' | `scheduler-${number}` | `worker-${number}`;

export interface Platform {
  baseUrl: string;
  authUrl: string;
  /** The batch service's own HTTP base URL (internal: clients reach it through the edge). */
  batchUrl: string;
  /** The first scheduler replica's HTTP base URL (= schedulerUrls[0]). */
  schedulerUrl: string;
  schedulerUrls: string[];
  workerUrls: string[];
  demoKey: string;
  adminToken: string;
  /** The launcher's LOG_DIR: one `<service>.log` each, and `pids.json`. */
  logDir: string;
  /** The service's current pid (it changes when the launcher restarts it), or undefined while it is down. */
  pidOf(name: ServiceName): number | undefined;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the whole platform exactly as `npm start` does (tools/launcher), on free ports, a fresh
 * Redis prefix and a temporary PGlite folder, with two simulated GPUs time-compressed.
 */
export async function startPlatform(extraEnv: NodeJS.ProcessEnv = {}): Promise<Platform> {
  // Ports are free when chosen, but another spec starting its platform beside this one may bind one
  // of them first (EADDRINUSE): then start again on newly chosen ports, once.
  try {
    return await startOnFreePorts(extraEnv);
  } catch (e) {
    if (!(e instanceof PortTakenError)) throw e;
    return startOnFreePorts(extraEnv);
  }
}

class PortTakenError extends Error {}

async function startOnFreePorts(extraEnv: NodeJS.ProcessEnv): Promise<Platform> {
  const replicas = Number(extraEnv.SCHEDULER_REPLICAS ?? 2);
  const taken = new Set<number>();
  /** `count` consecutive free ports that none of the others chosen here overlaps. */
  const range = async (count: number) => {
    for (;;) {
      const base = count === 1 ? await freePort() : await freePortRange(count);
      const ports = Array.from({ length: count }, (_, i) => base + i);
      if (ports.some((p) => taken.has(p))) continue;
      ports.forEach((p) => taken.add(p));
      return base;
    }
  };
  const gpus = Number(extraEnv.SIM_GPUS ?? 2) + Number(extraEnv.SIM_PERFORMANCE_GPUS ?? 0);
  const workerBase = await range(gpus);
  const scheduler = await range(replicas);
  const schedGrpc = await range(replicas);
  const [edge, auth, authGrpc, batch] = [await range(1), await range(1), await range(1), await range(1)];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-e2e-'));
  const logDir = path.join(dir, 'logs');
  const demoKey = `sk-e2e${randomBytes(16).toString('hex')}`;
  const adminToken = `e2e-admin-${randomBytes(16).toString('hex')}`;
  // Simulated seconds per real second; the scheduler's timers below follow it.
  const timeScale = Number(extraEnv.SIM_TIME_SCALE ?? 20);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(edge),
    AUTH_PORT: String(auth),
    BATCH_PORT: String(batch),
    SCHEDULER_PORT: String(scheduler),
    WORKER_BASE_PORT: String(workerBase),
    AUTH_GRPC_URL: `127.0.0.1:${authGrpc}`,
    SCHEDULER_GRPC_URL: `127.0.0.1:${schedGrpc}`,
    SCHEDULER_REPLICAS: String(replicas),
    SIM_PORT: '0',
    SIM_GPUS: '2',
    SIM_TIME_SCALE: String(timeScale),
    SWITCHYARD_PREFIX: `e2e${randomBytes(4).toString('hex')}`,
    AUTH_DATA_DIR: path.join(dir, 'auth'),
    BATCH_DATA_DIR: path.join(dir, 'batch'),
    LOG_DIR: logDir,
    SWITCHYARD_DEMO_KEY: demoKey,
    SWITCHYARD_ADMIN_TOKEN: adminToken,
    SCHEDULER_MIN_RESIDENCY_MS: String(Math.round(30_000 / timeScale)),
    SCHEDULER_MAX_WAIT_MS: String(Math.round(120_000 / timeScale)),
    SCHEDULER_REPLICATE_WAIT_MS: String(Math.round(10_000 / timeScale)),
    SCHEDULER_IDLE_AFTER_MS: String(Math.round(60_000 / timeScale)),
    // Tail rotation's round (90 s of real time by default), on the simulated clock like the timers above.
    SCHEDULER_TAIL_ROUND_WAIT_MS: String(Math.round(90_000 / timeScale)),
    EDGE_KEEPALIVE_MS: '200',
    LOG_LEVEL: 'info',
    ...extraEnv,
  };
  delete env.DATABASE_URL;
  delete env.BATCH_INTERNAL_TOKEN;
  delete env.BATCH_URL;
  delete env.OLLAMA_URLS;
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'tools/scripts/run-ts.mjs'), path.join(ROOT, 'tools/launcher/src/main.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 150_000;
  while (!out.includes('Switchyard is ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      const Failure = out.includes('EADDRINUSE') ? PortTakenError : Error;
      throw new Failure(`the platform did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const schedulerUrls = Array.from({ length: replicas }, (_, i) => `http://127.0.0.1:${scheduler + i}`);
  return {
    baseUrl: `http://127.0.0.1:${edge}`,
    authUrl: `http://127.0.0.1:${auth}`,
    batchUrl: `http://127.0.0.1:${batch}`,
    schedulerUrl: schedulerUrls[0],
    schedulerUrls,
    workerUrls: Array.from({ length: gpus }, (_, i) => `http://127.0.0.1:${workerBase + i}`),
    demoKey,
    adminToken,
    logDir,
    pidOf: (name) => {
      try {
        return (JSON.parse(readFileSync(path.join(logDir, 'pids.json'), 'utf8')) as Record<string, number | undefined>)[name];
      } catch {
        return undefined; // not written yet
      }
    },
    output: () => out,
    stop,
  };
}

/** The admin REST API, as an operator would call it. */
export function admin(p: Platform) {
  const call = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${p.authUrl}/admin/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${p.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  return {
    async createKey(policy: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
      const user = await call<{ id: string }>('POST', '/users', { name: `e2e-${randomBytes(4).toString('hex')}` });
      return call<{ id: string; key: string }>('POST', '/keys', { userId: user.id, policy });
    },
    revoke: (keyId: string) => call('POST', `/keys/${keyId}/revoke`),
    usage: (keyId: string) => call<{ rows: Array<{ model: string; requests: number }>; totals: { requests: number; promptTokens: number; completionTokens: number } }>('GET', `/usage?keyId=${keyId}`),
  };
}
