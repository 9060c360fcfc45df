/** Runs the scheduler as a child process (its real main.ts), for tests that kill it outright. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { TEST_REDIS_URL } from './scheduler-harness';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export interface SchedulerProcess {
  child: ChildProcess;
  grpcAddress: string;
  httpUrl: string;
  /** Every log line (parsed pino JSON) the process wrote so far. */
  logs: Record<string, unknown>[];
  /** SIGKILL: no shutdown hook runs, the lease is not released. */
  kill(): Promise<void>;
}

/** `node --require` this and send the process SIGWINCH: it throws an error nothing catches, from inside. */
export const CRASH_ON_SIGNAL = path.join(__dirname, 'crash-on-signal.cjs');

export async function spawnScheduler(env: Record<string, string>, timeoutMs = 30_000, nodeArgs: string[] = []): Promise<SchedulerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'tools/scripts/run-ts.mjs'), path.join(ROOT, 'apps/scheduler/src/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL: TEST_REDIS_URL,
      SCHEDULER_GRPC_URL: '127.0.0.1:0',
      PORT: '0',
      HOST: '127.0.0.1',
      ...env,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<{ grpcAddress: string; httpUrl: string }>((resolve, reject) => {
    let grpcAddress: string | undefined;
    const timer = setTimeout(() => reject(new Error(`scheduler process not ready within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`scheduler process exited (${code}) before it was ready: ${stderr}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'placement.v1 gRPC server listening') grpcAddress = String(entry.address);
      if (entry.msg === 'scheduler ready' && grpcAddress) {
        clearTimeout(timer);
        resolve({ grpcAddress, httpUrl: String(entry.url) });
      }
    });
  });
  const { grpcAddress, httpUrl } = await ready;
  return {
    child,
    grpcAddress,
    httpUrl,
    logs,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
