/**
 * `npm run bench -- batch [--lines 50000] [--time-scale 100000]`: the performance endpoint under a
 * big batch. Starts the whole platform as `npm start` does (simulated GPUs, made fast so the
 * platform's own costs show), uploads a JSONL file of chat lines with the `openai` client, runs it
 * as one batch, and prints: upload and validation time, lines/s, makespan, the peak memory of every
 * service (VmHWM from /proc), and the time to first token of interactive streams on the same model
 * before and while the batch runs.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI, { toFile } from 'openai';
import { freePort, freePortRange } from '@switchyard/testing';
import { fmt, percentile, table } from './stats';

const ROOT = path.resolve(__dirname, '../../..');
const MODEL = 'llama3.1:8b';

const { values: flags } = parseArgs({
  args: process.argv.slice(3),
  options: {
    lines: { type: 'string', default: '50000' },
    'time-scale': { type: 'string', default: '100000' },
    gpus: { type: 'string', default: '2' },
  },
});

interface Started {
  baseUrl: string;
  key: string;
  logDir: string;
  stop(): Promise<void>;
}

/** The launcher on free ports, a fresh prefix and data folder; resolves when it says it is ready. */
async function startStack(timeScale: number, gpus: number): Promise<Started> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-batch-bench-'));
  const key = `sk-bench${randomBytes(16).toString('hex')}`;
  const [edge, auth, batch, authGrpc] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(edge),
    AUTH_PORT: String(auth),
    BATCH_PORT: String(batch),
    SCHEDULER_PORT: String(await freePortRange(2)),
    SCHEDULER_GRPC_URL: `127.0.0.1:${await freePortRange(2)}`,
    WORKER_BASE_PORT: String(await freePortRange(gpus)),
    AUTH_GRPC_URL: `127.0.0.1:${authGrpc}`,
    SIM_GPUS: String(gpus),
    SIM_TIME_SCALE: String(timeScale),
    SWITCHYARD_PREFIX: `bb${randomBytes(4).toString('hex')}`,
    AUTH_DATA_DIR: path.join(dir, 'auth'),
    BATCH_DATA_DIR: path.join(dir, 'batch'),
    LOG_DIR: path.join(dir, 'logs'),
    SWITCHYARD_DEMO_KEY: key,
    LOG_LEVEL: 'warn',
  };
  delete env.DATABASE_URL;
  delete env.OLLAMA_URLS;
  const child = spawn(process.execPath, [path.join(ROOT, 'tools/scripts/run-ts.mjs'), path.join(ROOT, 'tools/launcher/src/main.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 180_000;
  while (!out.includes('Switchyard is ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`the platform did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { baseUrl: `http://127.0.0.1:${edge}`, key, logDir: env.LOG_DIR as string, stop };
}

/** Peak resident memory (VmHWM) of every service the launcher runs, MB. */
function peakMemory(logDir: string): Array<[string, number]> {
  const pids = JSON.parse(readFileSync(path.join(logDir, 'pids.json'), 'utf8')) as Record<string, number>;
  return Object.entries(pids).map(([name, pid]) => {
    try {
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      return [name, kb / 1024];
    } catch {
      return [name, NaN];
    }
  });
}

/** Time to first token of one interactive stream, ms. */
async function ttft(client: OpenAI): Promise<number> {
  const t0 = performance.now();
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, max_tokens: 8, messages: [{ role: 'user', content: `interactive ${Math.random()}` }] });
  let first = NaN;
  for await (const chunk of stream) {
    if (Number.isNaN(first) && chunk.choices[0]?.delta?.content) first = performance.now() - t0;
  }
  return first;
}

export async function runBatchBench(): Promise<void> {
  const lines = Number(flags.lines);
  const timeScale = Number(flags['time-scale']);
  const progress = (msg: string) => process.stderr.write(`[batch-bench] ${msg}\n`);
  progress(`starting the platform (${flags.gpus} simulated GPUs, time scale ${timeScale})`);
  const stack = await startStack(timeScale, Number(flags.gpus));
  try {
    const client = new OpenAI({ baseURL: `${stack.baseUrl}/v1`, apiKey: stack.key, maxRetries: 0, timeout: 600_000 });
    const idle: number[] = [];
    for (let i = 0; i < 20; i++) idle.push(await ttft(client));

    const body = Array.from({ length: lines }, (_, i) =>
      JSON.stringify({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: `Bulk line ${i}: say something.` }] } }),
    ).join('\n');
    progress(`uploading ${lines} lines (${(body.length / 1e6).toFixed(1)} MB)`);
    const t0 = Date.now();
    const file = await client.files.create({ file: await toFile(Buffer.from(body), 'bench.jsonl'), purpose: 'batch' });
    const uploadMs = Date.now() - t0;
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const busy: number[] = [];
    let batch = created;
    let inProgressAt: number | undefined;
    while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
      busy.push(await ttft(client));
      await new Promise((r) => setTimeout(r, 500));
      batch = await client.batches.retrieve(created.id);
      if (batch.status === 'in_progress' && inProgressAt === undefined) inProgressAt = Date.now();
      const c = batch.request_counts;
      if (busy.length % 20 === 0) progress(`${batch.status}: ${c?.completed ?? 0} done, ${c?.failed ?? 0} failed of ${c?.total ?? lines}`);
    }
    const doneAt = Date.now();
    const memory = peakMemory(stack.logDir);
    const validationMs = batch.in_progress_at && batch.created_at ? (batch.in_progress_at - batch.created_at) * 1000 : NaN;
    const runMs = batch.completed_at && batch.in_progress_at ? (batch.completed_at - batch.in_progress_at) * 1000 : doneAt - (inProgressAt ?? t0);
    console.log(`\nBatch of ${lines} chat lines on ${flags.gpus} simulated GPUs (time scale ${timeScale}): ${batch.status}, ${batch.request_counts?.completed} done, ${batch.request_counts?.failed} failed`);
    console.log(
      table(
        ['figure', 'value'],
        [
          ['upload (s)', fmt(uploadMs / 1000, 1)],
          ['validation (s, created → in_progress)', fmt(validationMs / 1000, 1)],
          ['run (s, in_progress → completed)', fmt(runMs / 1000, 1)],
          ['lines/s while running', fmt(lines / (runMs / 1000), 0)],
          ['makespan (s, upload → completed)', fmt((doneAt - t0) / 1000, 1)],
        ],
      ),
    );
    console.log('\nPeak resident memory by service (MB, VmHWM)');
    console.log(table(['service', 'MB'], memory.map(([n, mb]) => [n, fmt(mb, 0)])));
    const q = (xs: number[], p: number) => fmt(percentile(xs.filter(Number.isFinite), p), 0);
    console.log(`\nInteractive time to first token on ${MODEL} (ms, streams of the same model)`);
    console.log(
      table(
        ['', 'n', 'p50', 'p95', 'max'],
        [
          ['idle', String(idle.length), q(idle, 50), q(idle, 95), q(idle, 100)],
          ['while the batch runs', String(busy.length), q(busy, 50), q(busy, 95), q(busy, 100)],
        ],
      ),
    );
  } finally {
    await stack.stop();
  }
}
