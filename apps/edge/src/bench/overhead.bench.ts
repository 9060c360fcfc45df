/**
 * What the edge costs: the latency it adds (p50/p99) and the requests/s it carries, against a
 * zero-delay Ollama simulator, side by side with calling the simulator's own OpenAI layer directly,
 * in one run. The path measured is the whole data plane: client → edge (auth cache, admission,
 * Redis rate window) → BullMQ → worker → simulator → relay over Redis pub/sub → edge → client.
 *
 *   node tools/scripts/run-ts.mjs apps/edge/src/bench/overhead.bench.ts \
 *     [--requests 400] [--concurrency 16] [--seconds 5] [--model llama3.1:8b] [--max-tokens 16]
 *
 * Spawns `tools/ollama-sim` (--time-scale 1000000), `apps/worker` (static mode, WORKER_MODELS) and
 * `apps/edge`, each as its own process; auth is an in-process fake VerifyKey server (verdicts are
 * cached by the edge, so it is off the hot path either way). Needs Redis (REDIS_URL). It measures;
 * it does not pass or fail on time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { loadModelCatalogue } from '@switchyard/config';
import { FakeAuthServer } from '../testing/fake-auth.server';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const API_KEY = 'sk-bench-0123456789abcdef0123456789';

interface Args {
  requests: number;
  concurrency: number;
  seconds: number;
  model: string;
  maxTokens: number;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
  };
  return {
    requests: Number(get('requests', '400')),
    concurrency: Number(get('concurrency', '16')),
    seconds: Number(get('seconds', '5')),
    model: get('model', 'llama3.1:8b'),
    maxTokens: Number(get('max-tokens', '16')),
  };
}

const children: ChildProcess[] = [];
const childByLabel = new Map<string, ChildProcess>();

/** CPU seconds (user + system) a process has used, from /proc (Linux only; NaN elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return get('used_cpu_user') + get('used_cpu_sys');
}
let stopping = false;

/** Spawns a TS entry point; resolves with the first stdout JSON line `match` accepts (without `match`: at once). */
function spawnTs(
  label: string,
  entry: string,
  args: string[],
  env: Record<string, string>,
  match?: (line: Record<string, unknown>) => string | undefined,
): Promise<string> {
  const child = spawn(process.execPath, ['tools/scripts/run-ts.mjs', entry, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  childByLabel.set(label, child);
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => (tail = (tail + c).slice(-4000)));
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${label} exited (${code ?? signal})\n${tail}`);
  });
  if (!match) return Promise.resolve(label);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start within 60 s\n${tail}`)), 60_000);
    let buf = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => {
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const found = match(JSON.parse(line) as Record<string, unknown>);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          }
        } catch {
          // not JSON: ignore
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code}\n${tail}`));
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const dispatcher = new Agent({ connections: args.concurrency * 2, keepAliveTimeout: 30_000 });
  const auth = new FakeAuthServer(REDIS_URL, prefix);
  auth.add(API_KEY, { keyId: 'bench-key', userId: 'bench' });
  const redis = new Redis(REDIS_URL);
  try {
    const authUrl = await auth.start();
    // Direct calls cannot set num_ctx (Ollama's OpenAI layer has no way to), so the simulator's
    // default context is the catalogue's: both paths then share one runner, with no reloads.
    const model = loadModelCatalogue(path.join(REPO_ROOT, 'deploy/models.yaml')).find((m) => m.name === args.model);
    if (!model) throw new Error(`${args.model} is not in deploy/models.yaml`);
    const simArgs = ['--port', '0', '--time-scale', '1000000', '--context-length', String(model.contextWindow), '--keep-alive', '-1', '--log-level', 'warn'];
    const simUrl = await spawnTs('ollama-sim', 'tools/ollama-sim/src/main.ts', simArgs, {}, (l) =>
      l.event === 'listening' && Array.isArray(l.urls) ? String(l.urls[0]) : undefined,
    );
    // The worker's readiness is seen through the edge (a first request that succeeds).
    await spawnTs(
      'worker',
      'apps/worker/src/main.ts',
      [],
      {
        OLLAMA_URL: simUrl,
        WORKER_MODELS: args.model,
        SCHEDULER_GRPC_URL: 'none',
        AUTH_GRPC_URL: 'none',
        REDIS_URL,
        SWITCHYARD_PREFIX: prefix,
        PORT: '0',
        LOG_LEVEL: 'warn',
      },
    );
    const edgeUrl = await spawnTs(
      'edge',
      'apps/edge/src/main.ts',
      [],
      { PORT: '0', REDIS_URL, SWITCHYARD_PREFIX: prefix, AUTH_GRPC_URL: authUrl, LOG_LEVEL: 'info', EDGE_QUEUE_BOUND: '100000' },
      (l) => (l.msg === 'edge ready' && typeof l.url === 'string' ? l.url.replace('[::1]', '127.0.0.1') : undefined),
    );

    const body = JSON.stringify({ model: args.model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: args.maxTokens, temperature: 0 });
    const streamBody = JSON.stringify({ ...JSON.parse(body), stream: true });
    const direct: Target = { name: 'simulator direct', url: `${simUrl}/v1/chat/completions`, headers: { 'content-type': 'application/json' } };
    const edge: Target = {
      name: 'through the edge',
      url: `${edgeUrl}/v1/chat/completions`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    };

    const call = async (t: Target): Promise<number> => {
      const started = performance.now();
      const res = await request(t.url, { method: 'POST', headers: t.headers, body, dispatcher, headersTimeout: 30_000, bodyTimeout: 30_000 });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
      return performance.now() - started;
    };
    /** A streamed request: ms to the first chunk with content, and to the end ([DONE]). */
    const streamCall = async (t: Target): Promise<{ ttft: number; total: number }> => {
      const started = performance.now();
      const res = await request(t.url, { method: 'POST', headers: t.headers, body: streamBody, dispatcher, headersTimeout: 30_000, bodyTimeout: 30_000 });
      if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 300)}`);
      let ttft = NaN;
      let text = '';
      for await (const chunk of res.body) {
        text += chunk.toString();
        if (Number.isNaN(ttft) && /"content":"[^"]/.test(text)) ttft = performance.now() - started;
      }
      if (!text.includes('data: [DONE]')) throw new Error(`${t.name}: stream without [DONE]`);
      return { ttft, total: performance.now() - started };
    };
    const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
    progress(`simulator ${simUrl}, edge ${edgeUrl}; waiting for the worker`);

    // Wait for the worker to load the model and pull (first successful request through the edge).
    const readyBy = Date.now() + 90_000;
    for (;;) {
      try {
        await call(edge);
        break;
      } catch (err) {
        if (Date.now() > readyBy) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    progress('warming up');
    for (let i = 0; i < 50; i++) await Promise.all([call(direct), call(edge)]);
    progress(`latency: ${args.requests} sequential requests each`);

    // Latency: one request at a time, direct and edge interleaved so drift hits both alike.
    const lat: Record<string, number[]> = { [direct.name]: [], [edge.name]: [] };
    for (let i = 0; i < args.requests; i++) {
      lat[direct.name].push(await call(direct));
      lat[edge.name].push(await call(edge));
    }

    // Throughput: `concurrency` closed loops for `seconds`, each target on its own.
    const throughput = async (t: Target) => {
      let done = 0;
      const until = performance.now() + args.seconds * 1000;
      const samples: number[] = [];
      await Promise.all(
        Array.from({ length: args.concurrency }, async () => {
          while (performance.now() < until) {
            samples.push(await call(t));
            done++;
          }
        }),
      );
      samples.sort((a, b) => a - b);
      return { rps: done / args.seconds, p50: percentile(samples, 50), p99: percentile(samples, 99) };
    };
    progress(`streams: ${args.requests} sequential streamed requests each`);
    const ttft: Record<string, number[]> = { [direct.name]: [], [edge.name]: [] };
    for (let i = 0; i < args.requests; i++) {
      ttft[direct.name].push((await streamCall(direct)).ttft);
      ttft[edge.name].push((await streamCall(edge)).ttft);
    }

    progress(`throughput: ${args.concurrency} clients × ${args.seconds} s each`);
    const tDirect = await throughput(direct);
    const labels = ['edge', 'worker', 'ollama-sim'];
    const cpuBefore = labels.map((l) => cpuSeconds(childByLabel.get(l)?.pid));
    const redisBefore = await redisCpuSeconds(redis);
    const benchBefore = process.cpuUsage();
    const tEdge = await throughput(edge);
    const cpuShare: Record<string, string> = {};
    labels.forEach((l, i) => (cpuShare[l] = `${(((cpuSeconds(childByLabel.get(l)?.pid) - cpuBefore[i]) / args.seconds) * 100).toFixed(0)}%`));
    cpuShare['redis-server'] = `${((((await redisCpuSeconds(redis)) - redisBefore) / args.seconds) * 100).toFixed(0)}%`;
    const bu = process.cpuUsage(benchBefore);
    cpuShare['load generator + fake auth'] = `${(((bu.user + bu.system) / 1e6 / args.seconds) * 100).toFixed(0)}%`;

    const row = (name: string, from = lat) => {
      const s = [...from[name]].sort((a, b) => a - b);
      return { p50: percentile(s, 50), p99: percentile(s, 99), mean: s.reduce((a, b) => a + b, 0) / s.length };
    };
    const d = row(direct.name);
    const e = row(edge.name);
    const f = (ms: number) => ms.toFixed(2).padStart(8);
    console.log(`\nEdge overhead — model ${args.model}, max_tokens ${args.maxTokens}, zero-delay simulator (time scale 1e6), ${new Date().toISOString()}`);
    console.log(`Sequential latency, ${args.requests} requests each (ms):`);
    console.log(`  ${'path'.padEnd(20)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'mean'.padStart(8)}`);
    console.log(`  ${direct.name.padEnd(20)} ${f(d.p50)} ${f(d.p99)} ${f(d.mean)}`);
    console.log(`  ${edge.name.padEnd(20)} ${f(e.p50)} ${f(e.p99)} ${f(e.mean)}`);
    console.log(`  ${'added by the edge'.padEnd(20)} ${f(e.p50 - d.p50)} ${f(e.p99 - d.p99)} ${f(e.mean - d.mean)}`);
    const sd = row(direct.name, ttft);
    const se = row(edge.name, ttft);
    console.log(`Streamed, time to first token, ${args.requests} requests each (ms):`);
    console.log(`  ${direct.name.padEnd(20)} ${f(sd.p50)} ${f(sd.p99)} ${f(sd.mean)}`);
    console.log(`  ${edge.name.padEnd(20)} ${f(se.p50)} ${f(se.p99)} ${f(se.mean)}`);
    console.log(`  ${'added by the edge'.padEnd(20)} ${f(se.p50 - sd.p50)} ${f(se.p99 - sd.p99)} ${f(se.mean - sd.mean)}`);
    console.log(`Throughput, ${args.concurrency} concurrent clients for ${args.seconds} s:`);
    console.log(`  ${direct.name.padEnd(20)} ${tDirect.rps.toFixed(0).padStart(6)} req/s  (p50 ${tDirect.p50.toFixed(1)} ms, p99 ${tDirect.p99.toFixed(1)} ms)`);
    console.log(`  ${edge.name.padEnd(20)} ${tEdge.rps.toFixed(0).padStart(6)} req/s  (p50 ${tEdge.p50.toFixed(1)} ms, p99 ${tEdge.p99.toFixed(1)} ms)`);
    console.log(`  CPU while the edge ran (100% = one core): ${Object.entries(cpuShare).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log(
      JSON.stringify({
        bench: 'edge-overhead',
        model: args.model,
        latencyMs: { direct: d, edge: e, addedP50: e.p50 - d.p50, addedP99: e.p99 - d.p99 },
        ttftMs: { direct: sd, edge: se, addedP50: se.p50 - sd.p50, addedP99: se.p99 - sd.p99 },
        throughput: { concurrency: args.concurrency, direct: tDirect, edge: tEdge, cpuWhileEdge: cpuShare },
      }),
    );
  } finally {
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    await auth.stop();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await dispatcher.close();
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    process.exit(130);
  });
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
