import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { freePort, freePortRange, spawnSimulator } from '@switchyard/testing';
import { beladyLoads, maxResidentModels } from './belady';
import { barChartSvg } from './chart';
import { BaselineKind, startProxy } from './proxies';
import { BatchOutcome, replay, RequestResult, Target } from './replay';
import { fmt, percentile, table } from './stats';
import { generateTrace, readTrace, TraceEntry, writeTrace } from './trace';

/**
 * `npm run bench -- [flags]`: replays one trace against Switchyard (edge, auth, scheduler, one
 * worker per simulated GPU) and, in the same run, against baselines that put the same simulated
 * Ollama servers behind a round-robin, a least-busy or a model-affinity proxy. Every system gets
 * fresh simulated GPUs. Times are reported in simulated seconds (real × time scale).
 */

const ROOT = path.resolve(__dirname, '../../..');
const SIM_CATALOGUE = path.join(ROOT, 'tools/ollama-sim/models.default.yaml');
const SWITCHYARD_CATALOGUE = path.join(ROOT, 'deploy/models.yaml');

// `--no-bulk-as-batch` turns the default-on `--bulk-as-batch` off (node 20's parseArgs has no negation).
const argv = process.argv.slice(2);
const noBulkAsBatch = argv.includes('--no-bulk-as-batch');
const { values: flags } = parseArgs({
  args: argv.filter((a) => a !== '--no-bulk-as-batch'),
  options: {
    gpus: { type: 'string', default: '2' },
    'vram-gb': { type: 'string', default: '40' },
    'num-parallel': { type: 'string', default: '4' },
    trace: { type: 'string' },
    requests: { type: 'string' },
    models: { type: 'string', default: '18' },
    zipf: { type: 'string', default: '1.1' },
    rate: { type: 'string', default: '2' },
    seed: { type: 'string', default: '42' },
    'time-scale': { type: 'string' },
    out: { type: 'string', default: 'bench-out' },
    quick: { type: 'boolean', default: false },
    systems: { type: 'string', default: 'switchyard,round-robin,least-busy,affinity' },
    'bulk-as-batch': { type: 'boolean', default: true },
    'no-bulk': { type: 'boolean', default: false },
    'bulk-compare': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(`Usage: npm run bench -- [--quick] [--gpus 2] [--vram-gb 40] [--trace FILE | --requests N --models M --zipf S --rate R --seed N]
       [--time-scale X] [--out DIR] [--systems switchyard,round-robin,least-busy,affinity]
       [--bulk-as-batch | --no-bulk-as-batch] [--no-bulk] [--bulk-compare]
  --bulk-as-batch     (default on) Switchyard gets the trace's bulk entries as one Batch API job, submitted when
                      the first of them arrives; the proxies get them as requests
  --no-bulk           drop the bulk entries from the trace
  --bulk-compare      also run Switchyard without the bulk entries (row switchyard-no-bulk)`);
  process.exit(0);
}

const gpus = Number(flags.gpus);
const vramGb = Number(flags['vram-gb']);
const numParallel = Number(flags['num-parallel']);
const timeScale = Number(flags['time-scale'] ?? (flags.quick ? 40 : 20));
const requests = Number(flags.requests ?? (flags.quick ? 300 : 1200));
const outDir = path.resolve(flags.out);
const bulkAsBatch = flags['bulk-as-batch'] && !noBulkAsBatch;
const MAX_LOADED = 3;

interface SimCatalogueEntry {
  name: string;
  size_gb: number;
  kv_kib_per_token?: number;
  capabilities?: string[];
}
const simCatalogue = YAML.parse(readFileSync(SIM_CATALOGUE, 'utf8')) as SimCatalogueEntry[];
const syCatalogue = (YAML.parse(readFileSync(SWITCHYARD_CATALOGUE, 'utf8')) as { defaults?: { context_window?: number }; models: Array<{ name: string; context_window?: number }> });
const numCtx = (model: string) => syCatalogue.models.find((m) => m.name === model)?.context_window ?? syCatalogue.defaults?.context_window ?? 8192;
/** Memory a model needs when loaded: weights + KV cache for the fixed num_ctx × parallel slots. */
const footprintBytes = (e: SimCatalogueEntry) => e.size_gb * 1e9 + numCtx(e.name) * numParallel * (e.kv_kib_per_token ?? 128) * 1024;

function pickModels(count: number): SimCatalogueEntry[] {
  // Chat models that fit one GPU, the portal's llama3.1:8b first (most popular), then the rest in
  // a fixed shuffled order so popularity does not follow size.
  const fits = simCatalogue.filter((e) => !(e.capabilities ?? []).includes('embedding') && footprintBytes(e) <= vramGb * 1e9 * 0.95 && syCatalogue.models.some((m) => m.name === e.name));
  const head = fits.filter((e) => e.name === 'llama3.1:8b');
  const rest = fits.filter((e) => e.name !== 'llama3.1:8b').sort((a, b) => hash(a.name) - hash(b.name));
  return [...head, ...rest].slice(0, count);
}

function hash(s: string): number {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

interface SystemResult {
  system: string;
  /** The trace this system was given (the full one, or without bulk entries). */
  trace: TraceEntry[];
  results: RequestResult[];
  batch?: BatchOutcome;
  loads: number;
  loadingSecondsSim: number;
  wallSecondsSim: number;
}

async function simStats(urls: string[]): Promise<{ loads: number; loadingSim: number }> {
  let loads = 0;
  let loadingSim = 0;
  for (const u of urls) {
    const s = (await (await fetch(`${u}/sim/stats`)).json()) as { totals: { loads: number; loading_seconds_sim: number } };
    loads += s.totals.loads;
    loadingSim += s.totals.loading_seconds_sim;
  }
  return { loads, loadingSim };
}

async function runBaseline(kind: BaselineKind, trace: TraceEntry[]): Promise<SystemResult> {
  const sim = await spawnSimulator({ gpus, timeScale, numParallel, vramGb, maxLoaded: MAX_LOADED, seed: 1 });
  const proxy = await startProxy(kind, sim.urls);
  try {
    const target: Target = { kind: 'ollama', baseUrl: proxy.url, numCtx };
    const started = performance.now();
    const { results } = await replay(trace, target, timeScale, { onProgress: progress(kind, trace.length) });
    const wall = ((performance.now() - started) / 1000) * timeScale;
    const s = await simStats(sim.urls);
    return { system: kind, trace, results, loads: s.loads, loadingSecondsSim: s.loadingSim, wallSecondsSim: wall };
  } finally {
    await proxy.close();
    await sim.stop();
  }
}

async function runSwitchyard(trace: TraceEntry[], system = 'switchyard'): Promise<SystemResult> {
  const sim = await spawnSimulator({ gpus, timeScale, numParallel, vramGb, maxLoaded: MAX_LOADED, seed: 1 });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sy-bench-'));
  const workerPort = await freePortRange(gpus);
  const [edgePort, authPort, schedPort, authGrpc, schedGrpc, batchPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const adminToken = `bench-admin-${Date.now()}-token`;
  const demoKey = `sk-bench${Math.random().toString(36).slice(2)}${Date.now()}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(edgePort),
    AUTH_PORT: String(authPort),
    SCHEDULER_PORT: String(schedPort),
    WORKER_BASE_PORT: String(workerPort),
    AUTH_GRPC_URL: `127.0.0.1:${authGrpc}`,
    SCHEDULER_GRPC_URL: `127.0.0.1:${schedGrpc}`,
    OLLAMA_URLS: sim.urls.join(','),
    SWITCHYARD_PREFIX: `bench${Date.now()}`,
    AUTH_DATA_DIR: path.join(dataDir, 'auth'),
    BATCH_PORT: String(batchPort),
    BATCH_DATA_DIR: path.join(dataDir, 'batch'),
    // The batch service's tick (fill windows, finalize) and recovery at 1 s / 10 s simulated, as
    // at a real GPU's pace (floored at the service's minimums of 50 / 100 real ms).
    BATCH_TICK_MS: String(Math.max(50, Math.round(1000 / timeScale))),
    BATCH_RECOVER_INTERVAL_MS: String(Math.max(100, Math.round(10_000 / timeScale))),
    LOG_DIR: path.join(dataDir, 'logs'),
    SWITCHYARD_DEMO_KEY: demoKey,
    SWITCHYARD_ADMIN_TOKEN: adminToken,
    WORKER_SLOTS: String(numParallel),
    WORKER_GPU_MEMORY_GB: String(vramGb),
    SCHEDULER_MAX_MODELS_PER_WORKER: String(MAX_LOADED),
    // The scheduler's clock-based rules follow the simulator's compressed time (values in
    // simulated ms; BENCH_SCHEDULER_* overrides one for experiments).
    ...schedulerEnv(),
    SCHEDULER_TICK_MS: '50',
    // Status every 2.5 simulated seconds, as the default 1 s would be at a real GPU's pace.
    WORKER_STATUS_INTERVAL_MS: String(Math.max(20, Math.round(2500 / timeScale))),
    EDGE_QUEUE_BOUND: '10000',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
  };
  const launcher = spawn(process.execPath, [path.join(ROOT, 'tools/scripts/run-ts.mjs'), path.join(ROOT, 'tools/launcher/src/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  launcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
  launcher.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (out.includes('Switchyard is ready')) {
          clearInterval(t);
          resolve();
        }
        if (launcher.exitCode !== null) {
          clearInterval(t);
          reject(new Error(`launcher exited:\n${out}`));
        }
      }, 100);
    });
    const bulkKey = await createBulkKey(`http://127.0.0.1:${authPort}`, adminToken);
    const target: Target = { kind: 'openai', baseUrl: `http://127.0.0.1:${edgePort}`, keys: { interactive: demoKey, bulk: bulkKey ?? demoKey }, numCtx };
    const started = performance.now();
    const { results, batch } = await replay(trace, target, timeScale, { bulkAsBatch, onProgress: progress(system, trace.length) });
    const wall = ((performance.now() - started) / 1000) * timeScale;
    const s = await simStats(sim.urls);
    return { system, trace, results, batch, loads: s.loads, loadingSecondsSim: s.loadingSim, wallSecondsSim: wall };
  } finally {
    if (launcher.exitCode === null && launcher.signalCode === null) {
      const exited = new Promise((r) => launcher.once('exit', r));
      launcher.kill('SIGTERM');
      await exited;
    }
    await sim.stop();
    if (process.env.BENCH_KEEP_LOGS) console.error(`logs kept in ${path.join(dataDir, 'logs')}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The scheduler's timings in simulated milliseconds (BENCH_SCHEDULER_* overrides one). */
function schedulerEnvSim(): Record<string, number> {
  const simMs: Record<string, number> = {
    SCHEDULER_MIN_RESIDENCY_MS: 5_000,
    SCHEDULER_MAX_WAIT_MS: 60_000,
    SCHEDULER_REPLICATE_WAIT_MS: 10_000,
    SCHEDULER_IDLE_AFTER_MS: 10_000,
    SCHEDULER_KEEP_HORIZON_MS: 10_000,
    SCHEDULER_RATE_TAU_MS: 60_000,
  };
  for (const k of Object.keys(simMs)) simMs[k] = Number(process.env[`BENCH_${k}`] ?? simMs[k]);
  return simMs;
}

/** The scheduler's timings scaled to the compressed clock. */
function schedulerEnv(): Record<string, string> {
  const out: Record<string, string> = { SCHEDULER_BATCH_MIN_JOBS: process.env.BENCH_SCHEDULER_BATCH_MIN_JOBS ?? '0' };
  for (const [k, v] of Object.entries(schedulerEnvSim())) out[k] = String(Math.round(v / timeScale));
  return out;
}

/** A key whose policy puts its requests in the bulk priority class (via the admin API). */
async function createBulkKey(authUrl: string, adminToken: string): Promise<string | undefined> {
  const post = (p: string, body: unknown) =>
    fetch(`${authUrl}/admin/v1${p}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const user = await post('/users', { name: `bench-bulk-${Date.now()}` });
  const userId = user.ok ? ((await user.json()) as { id: string }).id : undefined;
  const res = userId ? await post('/keys', { userId, name: 'bench bulk', policy: { priority: 'bulk' } }) : undefined;
  if (!res?.ok) {
    console.error(`could not create a bulk key (${res?.status ?? user.status}): bulk requests use the interactive key`);
    return undefined;
  }
  return ((await res.json()) as { key: string }).key;
}

function progress(system: string, total: number) {
  let last = 0;
  return (done: number) => {
    const pct = Math.floor((done / total) * 10);
    if (pct > last) {
      last = pct;
      process.stderr.write(`  ${system}: ${done}/${total}\n`);
    }
  };
}

function summarise(r: SystemResult, tailModels: Set<string>, lowerBound: number) {
  const s = timeScale / 1000; // real ms -> simulated s
  const completed = r.results.filter((x) => x.ok);
  // Latency figures are the interactive requests' only; bulk work is judged by its makespan.
  const interactive = r.results.filter((x) => x.priority === 'interactive');
  const interactiveDone = interactive.filter((x) => x.ok);
  const ttft = interactiveDone.map((x) => x.ttftMs * s);
  const tail = interactiveDone.filter((x) => tailModels.has(x.model)).map((x) => x.ttftMs * s);
  const e2eWorst = Math.max(...r.results.map((x) => x.e2eMs * s));
  const bulk = r.results.filter((x) => x.priority === 'bulk');
  const firstBulkDueMs = Math.min(...r.trace.filter((e) => e.priority === 'bulk').map((e) => (e.t * 1000) / timeScale));
  // From the first bulk arrival to the last bulk answer (as a batch: to the batch's completed_at).
  const lastBulkMs = r.batch ? r.batch.completedAtMs : Math.max(...bulk.map((x) => x.sentMs + x.e2eMs));
  return {
    system: r.system,
    requests: r.results.length,
    completed: completed.length,
    rejected503: r.results.filter((x) => x.status === 503).length,
    failed: r.results.length - completed.length,
    interactiveRequests: interactive.length,
    interactiveCompleted: interactiveDone.length,
    interactiveFailed: interactive.length - interactiveDone.length,
    bulkRequests: bulk.length,
    bulkVia: bulk.length === 0 ? 'none' : r.batch ? 'batch' : 'requests',
    bulkServed: bulk.filter((x) => x.ok).length,
    bulkFailed: bulk.filter((x) => !x.ok).length,
    bulkMakespan: bulk.length ? (lastBulkMs - firstBulkDueMs) * s : NaN,
    /** As a batch: until polling saw it end (completed_at has whole-second resolution). */
    bulkMakespanObserved: r.batch ? (r.batch.observedDoneMs - firstBulkDueMs) * s : undefined,
    batch: r.batch,
    lowerBound,
    loads: r.loads,
    loadsPer1000: (r.loads / r.results.length) * 1000,
    loadingShare: r.loadingSecondsSim / (gpus * r.wallSecondsSim),
    ttftP50: percentile(ttft, 50),
    ttftP95: percentile(ttft, 95),
    ttftP99: percentile(ttft, 99),
    tailTtftP50: percentile(tail, 50),
    tailTtftP95: percentile(tail, 95),
    tailTtftP99: percentile(tail, 99),
    worstWait: Math.max(...interactiveDone.map((x) => x.ttftMs * s)),
    worstE2e: e2eWorst,
    throughput: completed.length / r.wallSecondsSim,
    maxClientLagMs: Math.max(...r.results.map((x) => x.lagMs)),
  };
}

async function main() {
  const models = pickModels(Number(flags.models));
  const fullTrace = flags.trace
    ? readTrace(flags.trace)
    : generateTrace({ models: models.map((m) => m.name), requests, zipf: Number(flags.zipf), rate: Number(flags.rate), seed: Number(flags.seed) });
  const withoutBulk = fullTrace.filter((e) => e.priority !== 'bulk');
  const trace = flags['no-bulk'] ? withoutBulk : fullTrace;
  mkdirSync(outDir, { recursive: true });
  writeTrace(path.join(outDir, 'trace.jsonl'), trace);

  const used = [...new Set(trace.map((e) => e.model))];
  const entries = used.map((m) => simCatalogue.find((e) => e.name === m)).filter((e): e is SimCatalogueEntry => !!e);
  const totalFootprint = entries.reduce((a, e) => a + footprintBytes(e), 0);
  const totalWeights = entries.reduce((a, e) => a + e.size_gb * 1e9, 0);
  const capacity = maxResidentModels(entries.map(footprintBytes), new Array(gpus).fill(vramGb * 1e9), MAX_LOADED);
  const lowerBound = beladyLoads(trace.map((e) => e.model), capacity);
  const lowerBoundNoBulk = beladyLoads(withoutBulk.map((e) => e.model), capacity);
  const popularity = new Map<string, number>();
  for (const e of trace) popularity.set(e.model, (popularity.get(e.model) ?? 0) + 1);
  const ranked = [...popularity.entries()].sort((a, b) => b[1] - a[1]).map(([m]) => m);
  const tailModels = new Set(ranked.slice(3));

  console.log(`Trace: ${trace.length} requests over ${fmt(trace[trace.length - 1].t, 0)} simulated s, ${used.length} models ` +
    `(weights ${fmt(totalWeights / 1e9, 0)} GB; loaded with KV cache ${fmt(totalFootprint / 1e9, 0)} GB = ${fmt(totalFootprint / (gpus * vramGb * 1e9), 1)}× the GPUs' ${gpus}×${vramGb} GB), ` +
    `${trace.filter((e) => e.priority === 'bulk').length} bulk${flags['no-bulk'] ? ' (--no-bulk: bulk entries dropped)' : bulkAsBatch ? ' (to Switchyard as one batch)' : ' (as requests)'}; time scale ${timeScale}.`);
  console.log(
    `Offline bound on loads for in-order service (Belady's MIN over the arrival order, at most ${capacity} models resident at once): ${lowerBound}.\n` +
      `It bounds any system that serves requests in arrival order (each proxied Ollama does); Switchyard batches a cold model's\n` +
      `waiting requests behind one load, reordering within its wait bound, so it can go below it.\n`,
  );

  const systems = flags.systems.split(',').map((s) => s.trim());
  const raw: SystemResult[] = [];
  for (const system of systems) {
    process.stderr.write(`running ${system}…\n`);
    raw.push(system === 'switchyard' ? await runSwitchyard(trace) : await runBaseline(system as BaselineKind, trace));
    if (system === 'switchyard' && flags['bulk-compare'] && !flags['no-bulk']) {
      process.stderr.write(`running switchyard without the bulk entries…\n`);
      raw.push(await runSwitchyard(withoutBulk, 'switchyard-no-bulk'));
    }
  }
  for (const r of raw) writeFileSync(path.join(outDir, `requests-${r.system}.jsonl`), r.results.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const summary = raw.map((r) => summarise(r, tailModels, r.trace.length === withoutBulk.length ? lowerBoundNoBulk : lowerBound));
  const rows = summary.map((x) => [
    x.system,
    fmt(x.loadsPer1000, 1),
    `${fmt(x.loads / Math.max(1, x.lowerBound), 2)}×`,
    `${fmt(x.loadingShare * 100, 1)}%`,
    fmt(x.ttftP50),
    fmt(x.ttftP95),
    fmt(x.ttftP99),
    fmt(x.tailTtftP95),
    fmt(x.tailTtftP99),
    fmt(x.worstWait, 1),
    fmt(x.throughput, 3),
    String(x.rejected503),
    String(x.failed),
    x.bulkRequests ? `${x.bulkVia === 'batch' ? 'batch' : 'reqs'} ${fmt(x.bulkMakespan, 1)}` : '—',
    x.bulkRequests ? `${x.bulkServed}/${x.bulkRequests}` : '—',
    x.bulkRequests ? String(x.bulkFailed) : '—',
  ]);
  console.log(
    table(
      ['system', 'loads/1k req', 'vs in-order bound', 'GPU time loading', 'TTFT p50 s', 'p95 s', 'p99 s', 'tail p95 s', 'tail p99 s', 'worst wait s', 'done req/s', '503s', 'failed', 'bulk makespan s', 'bulk served', 'bulk failed'],
      rows,
    ),
  );
  console.log(
    `\n(in-order bound: ${lowerBound} loads = ${fmt((lowerBound / trace.length) * 1000, 1)} per 1k requests; tail = models outside the top 3; times in simulated seconds;\n` +
      ` TTFT, tail and worst wait are over interactive requests only; bulk makespan = first bulk arrival to last bulk answer, for a batch to its completed_at\n` +
      ` (whole seconds: up to ${fmt(timeScale, 0)} simulated s early); done req/s and failed count bulk too)`,
  );
  for (const x of summary) {
    if (!x.batch) continue;
    const b = x.batch;
    console.log(
      `${x.system}: batch ${b.id || '(none)'} ${b.status}, ${b.counts.completed} done / ${b.counts.failed} failed of ${b.counts.total}; ` +
        `output ${b.check.outputLines} + error ${b.check.errorLines} lines, ${b.check.ok ? 'every custom_id exactly once' : `CHECK FAILED: ${b.check.missing} missing, ${b.check.duplicates} duplicated, ${b.check.unknown} unknown`}` +
        `; seen done after ${fmt(x.bulkMakespanObserved ?? NaN, 1)} s${b.error ? `; error: ${b.error}` : ''}`,
    );
  }
  const syBulk = summary.find((x) => x.system === 'switchyard');
  const syNoBulk = summary.find((x) => x.system === 'switchyard-no-bulk');
  if (syBulk && syNoBulk) {
    console.log(
      `Switchyard interactive TTFT with the bulk wave (${syBulk.bulkVia === 'batch' ? 'as a batch' : 'as requests'}): p50 ${fmt(syBulk.ttftP50)} s, p95 ${fmt(syBulk.ttftP95)} s, p99 ${fmt(syBulk.ttftP99)} s\n` +
        `Switchyard interactive TTFT without it:${' '.repeat(syBulk.bulkVia === 'batch' ? 8 : 10)}p50 ${fmt(syNoBulk.ttftP50)} s, p95 ${fmt(syNoBulk.ttftP95)} s, p99 ${fmt(syNoBulk.ttftP99)} s`,
    );
  }
  const sy = summary.find((x) => x.system === 'switchyard');
  const others = summary.filter((x) => !x.system.startsWith('switchyard'));
  if (sy && others.length > 0) {
    const fewestLoads = Math.min(...others.map((x) => x.loadsPer1000));
    const bestP95 = Math.min(...others.map((x) => x.ttftP95));
    const bestThroughput = Math.max(...others.map((x) => x.throughput));
    console.log(
      `Switchyard vs the best baseline: ${fmt(fewestLoads / sy.loadsPer1000, 2)}× fewer loads, ${fmt(bestP95 / sy.ttftP95, 2)}× lower p95 TTFT, ` +
        `throughput ${fmt(sy.throughput / bestThroughput, 2)}×, worst wait ${fmt(sy.worstWait, 1)} s (bound SCHEDULER_MAX_WAIT_MS ${fmt(Number(schedulerEnvSim().SCHEDULER_MAX_WAIT_MS) / 1000, 0)} s).`,
    );
  }

  writeFileSync(
    path.join(outDir, 'results.json'),
    JSON.stringify(
      {
        config: {
          gpus, vramGb, numParallel, timeScale, requests: trace.length, models: used, lowerBound, capacity,
          seed: flags.trace ? undefined : Number(flags.seed), trace: flags.trace, bulkAsBatch, noBulk: flags['no-bulk'], bulkCompare: flags['bulk-compare'], lowerBoundNoBulk,
        },
        summary,
      },
      null,
      2,
    ) + '\n',
  );
  writeFileSync(
    path.join(outDir, 'chart.svg'),
    barChartSvg(`Switchyard vs. proxies: ${trace.length} requests, ${used.length} models, ${gpus} GPUs`, [
      { title: 'Model loads', unit: 'per 1k requests', values: summary.map((x) => ({ label: x.system, value: x.loadsPer1000 })) },
      { title: 'TTFT p95', unit: 's', values: summary.map((x) => ({ label: x.system, value: x.ttftP95 })) },
      { title: 'Worst wait', unit: 's', values: summary.map((x) => ({ label: x.system, value: x.worstWait })) },
      { title: 'Throughput', unit: 'req/s', values: summary.map((x) => ({ label: x.system, value: x.throughput })) },
    ]),
  );
  console.log(`\nwrote ${path.join(outDir, 'results.json')}, ${path.join(outDir, 'chart.svg')}, ${path.join(outDir, 'trace.jsonl')}`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
