/**
 * Starts the Ollama simulator (tools/ollama-sim) as a child process for tests: every GPU on its own
 * ephemeral port, resolved once the simulator prints its listening line.
 */
import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface SpawnSimulatorOptions {
  gpus?: number;
  timeScale?: number;
  numParallel?: number;
  maxQueue?: number;
  maxLoaded?: number;
  vramGb?: number;
  /** Model catalogue file (YAML or JSON). */
  models?: string;
  seed?: number;
  /** More flags, e.g. ['--keep-alive', '1m']. */
  extraArgs?: string[];
}

export interface SpawnedSimulator {
  /** One base URL per simulated GPU (`http://127.0.0.1:PORT`). */
  urls: string[];
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const START_TIMEOUT_MS = 30_000;
const KILL_AFTER_MS = 5_000;

function flags(opts: SpawnSimulatorOptions): string[] {
  const args = ['--port', '0'];
  const add = (flag: string, v: number | string | undefined) => {
    if (v !== undefined) args.push(flag, String(v));
  };
  add('--gpus', opts.gpus);
  add('--time-scale', opts.timeScale);
  add('--num-parallel', opts.numParallel);
  add('--max-queue', opts.maxQueue);
  add('--max-loaded', opts.maxLoaded);
  add('--vram-gb', opts.vramGb);
  add('--models', opts.models);
  add('--seed', opts.seed);
  return [...args, ...(opts.extraArgs ?? [])];
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Spawns `tools/ollama-sim/src/main.ts --port 0 ...` and waits for `{"event":"listening","urls":[...]}`. */
export async function spawnSimulator(opts: SpawnSimulatorOptions = {}): Promise<SpawnedSimulator> {
  const child = spawn(process.execPath, ['tools/scripts/run-ts.mjs', 'tools/ollama-sim/src/main.ts', ...flags(opts)], {
    cwd: REPO_ROOT,
    env: { ...process.env, SIM_LOG_LEVEL: process.env.SIM_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });

  const urls = await new Promise<string[]>((resolve, reject) => {
    let stdout = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`ollama simulator ${why}\n${stderr}`));
    };
    const timer = setTimeout(() => {
      fail(`did not listen within ${START_TIMEOUT_MS / 1000}s`);
      void stopChild(child);
    }, START_TIMEOUT_MS);
    child.once('error', (err) => fail(`could not start: ${err.message}`));
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before listening`));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
      for (const line of stdout.split('\n')) {
        try {
          const msg = JSON.parse(line) as { event?: string; urls?: string[] };
          if (msg.event === 'listening' && Array.isArray(msg.urls)) {
            clearTimeout(timer);
            child.removeAllListeners('exit');
            child.removeAllListeners('error');
            resolve(msg.urls);
            return;
          }
        } catch {
          // not a JSON line (yet)
        }
      }
    });
  });

  return { urls, stop: () => stopChild(child) };
}
