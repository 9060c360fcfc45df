import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { DEFAULT_MAX_EXPECTED_WAIT_MS, loadModelCatalogue } from '@switchyard/config';
import { freePort, freePortRange, spawnSimulator } from '@switchyard/testing';
import { BaselineKind, startProxy } from '../proxies';
import { BatchOutcome, replay, RequestResult, Target } from '../replay';
import { TraceEntry } from '../trace';
import { ClientPolicy } from './client';
import { BenchCatalogue, type ComputeSharing } from './catalogue';

/**
 * The systems under test, each on fresh simulated GPUs that start cold (no model loaded before
 * the trace clock starts): Switchyard (the launcher's whole platform, one worker per GPU) and the
 * proxies people put in front of Ollama (proxies.ts). Every one gets the same client (client.ts).
 */

export const ROOT = path.resolve(__dirname, '../../../..');

export interface RunConfig {
  gpus: number;
  vramGb: number;
  numParallel: number;
  timeScale: number;
  maxLoaded: number;
  bulkAsBatch: boolean;
  client: ClientPolicy;
  catalogue: BenchCatalogue;
  /** Print progress to stderr. */
  verbose: boolean;
  /** The simulator's `--compute-sharing` (tools/ollama-sim README), passed to every system's simulator. */
  computeSharing: ComputeSharing;
}

export interface SystemResult {
  system: string;
  /** The trace this system was given. */
  trace: TraceEntry[];
  results: RequestResult[];
  batch?: BatchOutcome;
  loads: number;
  loadingSecondsSim: number;
  /** Simulated GPU-seconds with some model busy, and the compute delivered in them in full-batch seconds (the simulator's `gpu` stats). */
  gpuBusySecondsSim: number;
  fullBatchSecondsSim: number;
  /** Simulated seconds from the trace's start until the last request ended. */
  wallSecondsSim: number;
  /** Extra facts about the run (e.g. how the pinned model was handled). */
  notes: string[];
}

async function simStats(urls: string[]): Promise<{ loads: number; loadingSim: number; gpuBusySim: number; fullBatchSim: number }> {
  let loads = 0;
  let loadingSim = 0;
  let gpuBusySim = 0;
  let fullBatchSim = 0;
  for (const u of urls) {
    const s = (await (await fetch(`${u}/sim/stats`)).json()) as { totals: { loads: number; loading_seconds_sim: number }; compute: { busy_seconds_sim: number; full_batch_seconds_sim: number } };
    loads += s.totals.loads;
    loadingSim += s.totals.loading_seconds_sim;
    gpuBusySim += s.compute.busy_seconds_sim;
    fullBatchSim += s.compute.full_batch_seconds_sim;
  }
  return { loads, loadingSim, gpuBusySim, fullBatchSim };
}

/** Loads already on the simulated GPUs (0 when cold). */
async function residentNow(urls: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const u of urls) {
    const ps = (await (await fetch(`${u}/api/ps`)).json()) as { models: Array<{ name: string }> };
    out.push(...ps.models.map((m) => m.name));
  }
  return out;
}

function progress(cfg: RunConfig, system: string, total: number) {
  let last = 0;
  return (done: number) => {
    const pct = Math.floor((done / total) * 4);
    if (cfg.verbose && pct > last) {
      last = pct;
      process.stderr.write(`    ${system}: ${done}/${total}\n`);
    }
  };
}

function simulator(cfg: RunConfig) {
  return spawnSimulator({
    gpus: cfg.gpus,
    timeScale: cfg.timeScale,
    numParallel: cfg.numParallel,
    vramGb: cfg.vramGb,
    maxLoaded: cfg.maxLoaded,
    seed: 1,
    extraArgs: ['--compute-sharing', cfg.computeSharing],
  });
}

/** The launcher runs at most this many scheduler replicas (tools/launcher: SCHEDULER_REPLICAS ≤ 5). */
const SCHEDULER_REPLICAS_MAX = 5;

/** Proxies poll `/api/ps` every 2.5 simulated seconds: the interval Switchyard's workers report status at here. */
export const STATUS_INTERVAL_SIM_MS = 2500;

export async function runBaseline(kind: BaselineKind, trace: TraceEntry[], cfg: RunConfig): Promise<SystemResult> {
  const sim = await simulator(cfg);
  const proxy = await startProxy(kind, sim.urls, { pollMs: Math.max(10, Math.round(STATUS_INTERVAL_SIM_MS / cfg.timeScale)) });
  try {
    const target: Target = { kind: 'ollama', baseUrl: proxy.url, numCtx: cfg.catalogue.numCtx };
    const started = performance.now();
    const { results } = await replay(trace, target, cfg.timeScale, { client: cfg.client, onProgress: progress(cfg, kind, trace.length) });
    const wall = ((performance.now() - started) / 1000) * cfg.timeScale;
    const s = await simStats(sim.urls);
    return { system: kind, trace, results, loads: s.loads, loadingSecondsSim: s.loadingSim, gpuBusySecondsSim: s.gpuBusySim, fullBatchSecondsSim: s.fullBatchSim, wallSecondsSim: wall, notes: [] };
  } finally {
    await proxy.close();
    await sim.stop();
  }
}

/**
 * Switchyard's timings in simulated ms: its own defaults (the scheduler policy's
 * DEFAULT_RESIDENCY_AWARE_OPTIONS and the edge's schema; the expected-wait bound from libs/config),
 * which the bench scales to the compressed clock. The policy's and the edge's live in their apps,
 * which a tool may not import, hence the values here. BENCH_<NAME> overrides one for experiments.
 */
/** The scheduler's fractions (not times, so not scaled), when BENCH_<NAME> sets one for an experiment. */
export function switchyardFractions(): Record<string, string> {
  const names = ['SCHEDULER_AGING_FORCE_FRACTION', 'SCHEDULER_REPLICATE_AT_FRACTION', 'SCHEDULER_TAIL_URGENT_FRACTION', 'SCHEDULER_TAIL_SLOTS_PER_WORKER'];
  return Object.fromEntries(names.filter((k) => process.env[`BENCH_${k}`]).map((k) => [k, String(process.env[`BENCH_${k}`])]));
}

/**
 * The scheduler's load-time estimate for a model no worker has loaded yet (`SCHEDULER_LOAD_BANDWIDTH_GBPS`,
 * `SCHEDULER_LOAD_OVERHEAD_S`; its policy's defaults), in simulated units, which the bench scales
 * to the compressed clock like the timings: unscaled, a never-loaded model's estimate was `timeScale`
 * times its real load (qwen2.5:14b: 48 simulated s for a 2.4 s load), so its first requests aged at
 * once and the edge refused them for an expected wait they did not have.
 */
export function switchyardLoadEstimateSim(): { SCHEDULER_LOAD_BANDWIDTH_GBPS: number; SCHEDULER_LOAD_OVERHEAD_S: number } {
  return {
    SCHEDULER_LOAD_BANDWIDTH_GBPS: Number(process.env.BENCH_SCHEDULER_LOAD_BANDWIDTH_GBPS ?? 10),
    SCHEDULER_LOAD_OVERHEAD_S: Number(process.env.BENCH_SCHEDULER_LOAD_OVERHEAD_S ?? 1.5),
  };
}

export function switchyardTimingsSim(): Record<string, number> {
  const simMs: Record<string, number> = {
    SCHEDULER_MIN_RESIDENCY_MS: 5_000,
    SCHEDULER_MAX_WAIT_MS: 60_000,
    SCHEDULER_REPLICATE_WAIT_MS: 10_000,
    SCHEDULER_MAX_EXPECTED_WAIT_MS: DEFAULT_MAX_EXPECTED_WAIT_MS,
    SCHEDULER_DEFAULT_SERVICE_MS: 4_000,
    SCHEDULER_IDLE_AFTER_MS: 10_000,
    SCHEDULER_KEEP_HORIZON_MS: 10_000,
    SCHEDULER_DISPLACE_AFTER_MS: 0,
    SCHEDULER_TAIL_ROUND_WAIT_MS: 90_000,
    SCHEDULER_RATE_TAU_MS: 60_000,
    EDGE_MAX_EXPECTED_WAIT_MS: DEFAULT_MAX_EXPECTED_WAIT_MS,
    EDGE_DEFAULT_SERVICE_MS: 4_000,
    EDGE_REQUEST_TIMEOUT_MS: 600_000,
  };
  for (const k of Object.keys(simMs)) simMs[k] = Number(process.env[`BENCH_${k}`] ?? simMs[k]);
  return simMs;
}

/** The launcher's line for a service that exited (tools/launcher's process group). */
const EXITED = /✗ \S+ exited/;

/**
 * Switchyard as `npm start` runs it (the launcher: auth, scheduler, one worker per GPU, batch,
 * edge) on its own simulated GPUs. Starting it takes tens of seconds on a small machine, so one
 * platform serves every run of a GPU configuration: before each run `reset` empties the GPUs
 * (every model unloaded, the simulator's counters zeroed) and waits until nothing is resident, so
 * each trace starts cold. What Switchyard has learned (service and load times) carries over, as in
 * a deployment that has been running; `start` runs a short warm-up trace for that reason, so the
 * first measured run is not the only one without it.
 */
export class SwitchyardPlatform {
  private readonly keys = new Map<string, string>();
  /** The launcher's lines saying a service exited (it restarts it), as they come. */
  private readonly exits: string[] = [];
  /** Set when a run saw a service exit or the scheduler's leadership move: the logs are kept at stop. */
  private troubled = false;

  private constructor(
    private readonly cfg: RunConfig,
    private readonly sim: { urls: string[]; stop(): Promise<void> },
    private readonly launcher: ChildProcess,
    private readonly dataDir: string,
    private readonly edgeUrl: string,
    private readonly authUrl: string,
    private readonly adminToken: string,
    private readonly demoKey: string,
    private readonly schedulerUrls: string[],
  ) {}

  static async start(cfg: RunConfig): Promise<SwitchyardPlatform> {
    const sim = await simulator(cfg);
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sy-bench-'));
    mkdirSync(dataDir, { recursive: true });
    // Equal terms: the catalogue as deployed, but with no pinned replicas — a pin would be loaded
    // while the platform starts, before the trace clock, and the proxies start cold.
    const catalogueFile = path.join(dataDir, 'models.yaml');
    writeFileSync(catalogueFile, YAML.stringify(cfg.catalogue.unpinnedFile()));
    loadModelCatalogue(catalogueFile); // as valid as the deployed one
    const workerPort = await freePortRange(cfg.gpus);
    // The launcher's scheduler replicas (two by default) listen on consecutive ports.
    const schedPort = await freePortRange(SCHEDULER_REPLICAS_MAX);
    const schedGrpc = await freePortRange(SCHEDULER_REPLICAS_MAX);
    const [edgePort, authPort, authGrpc, batchPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const adminToken = `bench-admin-${Date.now()}-token`;
    const demoKey = `sk-bench${Math.random().toString(36).slice(2)}${Date.now()}`;
    const scaled = (simMs: number, floor = 1) => String(Math.max(floor, Math.round(simMs / cfg.timeScale)));
    const timings = Object.fromEntries(Object.entries(switchyardTimingsSim()).map(([k, v]) => [k, scaled(v)]));
    const loadEstimate = switchyardLoadEstimateSim();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(edgePort),
      AUTH_PORT: String(authPort),
      SCHEDULER_PORT: String(schedPort),
      WORKER_BASE_PORT: String(workerPort),
      AUTH_GRPC_URL: `127.0.0.1:${authGrpc}`,
      SCHEDULER_GRPC_URL: `127.0.0.1:${schedGrpc}`,
      OLLAMA_URLS: sim.urls.join(','),
      SWITCHYARD_PREFIX: `bench${Date.now()}${Math.random().toString(36).slice(2, 6)}`,
      MODEL_CATALOGUE: catalogueFile,
      AUTH_DATA_DIR: path.join(dataDir, 'auth'),
      BATCH_PORT: String(batchPort),
      BATCH_DATA_DIR: path.join(dataDir, 'batch'),
      // The batch service's tick (fill windows, finalize) and recovery at 1 s / 10 s simulated, as
      // at a real GPU's pace (floored at the service's minimums of 50 / 100 real ms).
      BATCH_TICK_MS: scaled(1000, 50),
      BATCH_RECOVER_INTERVAL_MS: scaled(10_000, 100),
      LOG_DIR: path.join(dataDir, 'logs'),
      SWITCHYARD_DEMO_KEY: demoKey,
      SWITCHYARD_ADMIN_TOKEN: adminToken,
      WORKER_SLOTS: String(cfg.numParallel),
      WORKER_GPU_MEMORY_GB: String(cfg.vramGb),
      SCHEDULER_MAX_MODELS_PER_WORKER: String(cfg.maxLoaded),
      SCHEDULER_BATCH_MIN_JOBS: process.env.BENCH_SCHEDULER_BATCH_MIN_JOBS ?? '0',
      ...timings,
      ...switchyardFractions(),
      SCHEDULER_LOAD_BANDWIDTH_GBPS: String(loadEstimate.SCHEDULER_LOAD_BANDWIDTH_GBPS * cfg.timeScale),
      SCHEDULER_LOAD_OVERHEAD_S: String(loadEstimate.SCHEDULER_LOAD_OVERHEAD_S / cfg.timeScale),
      SCHEDULER_TICK_MS: '50',
      // Status every 2.5 simulated seconds (the proxies poll /api/ps at the same interval).
      WORKER_STATUS_INTERVAL_MS: scaled(STATUS_INTERVAL_SIM_MS, 20),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    };
    const launched = performance.now();
    const launcher = spawn(process.execPath, [path.join(ROOT, 'tools/scripts/run-ts.mjs'), path.join(ROOT, 'tools/launcher/src/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const schedulerUrls = Array.from({ length: SCHEDULER_REPLICAS_MAX }, (_, i) => `http://127.0.0.1:${schedPort + i}`);
    const platform = new SwitchyardPlatform(cfg, sim, launcher, dataDir, `http://127.0.0.1:${edgePort}`, `http://127.0.0.1:${authPort}`, adminToken, demoKey, schedulerUrls);
    const onOutput = (d: Buffer) => {
      const text = d.toString();
      out = (out + text).slice(-50_000);
      for (const line of text.split('\n')) if (EXITED.test(line)) platform.exits.push(line.trim());
    };
    launcher.stdout?.on('data', onOutput);
    launcher.stderr?.on('data', onOutput);
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
    } catch (err) {
      await platform.stop();
      throw err;
    }
    if (cfg.verbose) process.stderr.write(`  switchyard ${cfg.gpus}x${cfg.vramGb}: ready after ${((performance.now() - launched) / 1000).toFixed(1)} s real\n`);
    return platform;
  }

  /** Every model unloaded, counters zeroed, and nothing resident for a settle period (simulated). */
  async reset(settleSimMs = 30_000): Promise<void> {
    for (let round = 0; round < 20; round++) {
      for (const u of this.sim.urls) {
        const ps = (await (await fetch(`${u}/api/ps`)).json()) as { models: Array<{ name: string }> };
        for (const m of ps.models) await fetch(`${u}/api/generate`, { method: 'POST', body: JSON.stringify({ model: m.name, prompt: '', keep_alive: 0 }) });
      }
      await new Promise((r) => setTimeout(r, settleSimMs / this.cfg.timeScale));
      if ((await residentNow(this.sim.urls)).length === 0) break;
    }
    for (const u of this.sim.urls) await fetch(`${u}/sim/reset`, { method: 'POST' });
  }

  private async keyFor(users: string[], priority: 'interactive' | 'bulk'): Promise<void> {
    const missing = users.filter((u) => !this.keys.has(`${priority}:${u}`));
    for (const [u, k] of await createKeys(this.authUrl, this.adminToken, missing, priority)) this.keys.set(`${priority}:${u}`, k);
  }

  async run(trace: TraceEntry[], system = 'switchyard'): Promise<SystemResult> {
    const cfg = this.cfg;
    const users = [...new Set(trace.filter((e) => e.priority === 'interactive').map((e) => e.user))];
    await this.keyFor(users, 'interactive');
    if (trace.some((e) => e.priority === 'bulk')) await this.keyFor(['bulk'], 'bulk');
    await this.reset();
    const notes: string[] = [];
    const missing = users.filter((u) => !this.keys.has(`interactive:${u}`));
    if (missing.length) notes.push(`no key for ${missing.length} of ${users.length} users; they use the demo key`);
    const resident = await residentNow(this.sim.urls);
    if (resident.length > 0) notes.push(`not cold at the trace's start: ${resident.join(', ')} resident`);
    const bulkKey = this.keys.get('bulk:bulk') ?? this.demoKey;
    const target: Target = {
      kind: 'openai',
      baseUrl: this.edgeUrl,
      keyFor: (e) => (e.priority === 'bulk' ? bulkKey : (this.keys.get(`interactive:${e.user}`) ?? this.demoKey)),
      bulkKey,
      numCtx: cfg.catalogue.numCtx,
    };
    const { loads: loadsBefore, leader: leaderBefore } = await this.schedulerFigures();
    const exitsBefore = this.exits.length;
    const started = performance.now();
    const { results, batch } = await replay(trace, target, cfg.timeScale, { client: cfg.client, bulkAsBatch: cfg.bulkAsBatch, onProgress: progress(cfg, system, trace.length) });
    const wall = ((performance.now() - started) / 1000) * cfg.timeScale;
    const s = await simStats(this.sim.urls);
    const { loads: loadsAfter, leader: leaderAfter } = await this.schedulerFigures();
    const byReason = [...loadsAfter].map(([reason, n]) => [reason, n - (loadsBefore.get(reason) ?? 0)] as const).filter(([, n]) => n > 0);
    if (byReason.length) notes.push(`load commands by reason: ${byReason.map(([r, n]) => `${r} ${n}`).join(', ')}`);
    // A scheduler failover costs seconds of real time, minutes of simulated time: a run it happened
    // in says so, and keeps the logs (BENCH_LOG_LEVEL=info for more than warnings).
    const exited = this.exits.slice(exitsBefore);
    if (exited.length) notes.push(`services exited during the run (the launcher restarted them): ${exited.join('; ')}`);
    if (leaderBefore !== leaderAfter) notes.push(`the scheduler's leader changed during the run: replica ${leaderBefore ?? 'none'} before, ${leaderAfter ?? 'none'} after`);
    if (exited.length || leaderBefore !== leaderAfter) this.troubled = true;
    return { system, trace, results, batch, loads: s.loads, loadingSecondsSim: s.loadingSim, gpuBusySecondsSim: s.gpuBusySim, fullBatchSecondsSim: s.fullBatchSim, wallSecondsSim: wall, notes };
  }

  /**
   * From one scrape of each scheduler replica's `/metrics`: its load commands so far by reason,
   * summed over the replicas (only the leader's count moves), and which replica leads (its
   * `switchyard_scheduler_leader` is 1), if one answers so.
   */
  private async schedulerFigures(): Promise<{ loads: Map<string, number>; leader: number | undefined }> {
    const loads = new Map<string, number>();
    let leader: number | undefined;
    for (const [i, u] of this.schedulerUrls.entries()) {
      const text = await fetch(`${u}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
      for (const m of text.matchAll(/^switchyard_scheduler_loads_total\{[^}]*reason="([^"]+)"[^}]*\} (\d+)/gm)) loads.set(m[1], (loads.get(m[1]) ?? 0) + Number(m[2]));
      if (leader === undefined && /^switchyard_scheduler_leader 1$/m.test(text)) leader = i;
    }
    return { loads, leader };
  }

  async stop(): Promise<void> {
    const launcher = this.launcher;
    if (launcher.exitCode === null && launcher.signalCode === null) {
      const exited = new Promise((r) => launcher.once('exit', r));
      launcher.kill('SIGTERM');
      await exited;
    }
    await this.sim.stop();
    if (process.env.BENCH_KEEP_LOGS || this.troubled) console.error(`logs kept in ${path.join(this.dataDir, 'logs')}${this.troubled ? ' (a run saw a service exit or the leader change)' : ''}`);
    else rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** One user and one key per trace user, through the admin API (bulk: a key whose policy puts requests in the bulk class). */
async function createKeys(authUrl: string, adminToken: string, users: string[], priority: 'interactive' | 'bulk'): Promise<Map<string, string>> {
  const post = (p: string, body: unknown) =>
    fetch(`${authUrl}/admin/v1${p}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const keys = new Map<string, string>();
  for (const u of users) {
    const user = await post('/users', { name: `bench-${u}-${Date.now()}` });
    const userId = user.ok ? ((await user.json()) as { id: string }).id : undefined;
    const res = userId ? await post('/keys', { userId, name: `bench ${u}`, ...(priority === 'bulk' ? { policy: { priority: 'bulk' } } : {}) }) : undefined;
    if (!res?.ok) {
      console.error(`could not create a key for ${u} (${res?.status ?? user.status})`);
      continue;
    }
    keys.set(u, ((await res.json()) as { key: string }).key);
  }
  return keys;
}
