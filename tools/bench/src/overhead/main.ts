/**
 * `npm run bench -- overhead [flags]`: what the gateway costs over calling Ollama directly, side by
 * side with Portkey's open-source gateway, in one run. A near-zero-delay simulator (tools/ollama-sim,
 * time scale 100,000) is called three ways: directly (its OpenAI layer), through Portkey
 * (`x-portkey-provider: ollama`, `x-portkey-custom-host`), and through the whole Switchyard stack as
 * `npm start` runs it (edge → Redis/BullMQ → worker → simulator → relay → edge; one worker, 4 slots).
 *
 * Prints: p50/p99 added latency of non-stream requests (sequential, the three interleaved), time to
 * first token added for streams, requests/s at 1, 8, 32 and 128 connections, CPU per request of
 * every process (from /proc/<pid>/stat) at 32 connections, and the edge's RSS idle, with 1,000
 * streams open at once (the simulator paused with SIGSTOP so none can finish early), and after they
 * closed. It measures; it does not pass or fail on time.
 *
 * Flags: --requests 1000 (sequential, per system) --streams 300 (TTFT samples, per system)
 *   --seconds 5 (per throughput point) --connections 1,8,32,128 --open-streams 1000
 *   --systems direct,portkey,switchyard --model llama3.1:8b --time-scale 100000
 *   --keep-logs (the stack's LOG_DIR is kept) --database-url postgres://…/postgres (auth and batch on a fresh
 *   PostgreSQL database made there, as a deployment would run them, instead of npm start's PGlite; the
 *   server processes serving it are counted as `postgres`) --cpu-prof DIR (CPU profiles of the edge, the worker and auth over the --cpu-at run, written to DIR; top self time printed) --cpu-at 32 (the connection count whose CPU per request and profiles are measured)
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelCatalogue } from '@switchyard/config';
import { fmt, percentile, table } from '../stats';
import { PROFILED, profileOf, profilingEnv, selfTime } from './cpu-profile';
import { agent, call, closedLoop, holdStreams, streamCall, type HeldStreams, type Target, type Throughput } from './load';
import { createBenchDatabase, type BenchDatabase } from './postgres';
import { CpuMeter, rssMb } from './proc';
import { RedisCommandMeter } from './redis-commands';
import { REPO_ROOT, startPortkey, startSimulator, startSwitchyard, type Started } from './systems';

type SystemName = 'direct' | 'portkey' | 'switchyard';
const SYSTEMS: SystemName[] = ['direct', 'portkey', 'switchyard'];

function flags() {
  const { values } = parseArgs({
    args: process.argv.slice(3),
    options: {
      requests: { type: 'string', default: '1000' },
      streams: { type: 'string', default: '300' },
      seconds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '1,8,32,128' },
      'open-streams': { type: 'string', default: '1000' },
      systems: { type: 'string', default: SYSTEMS.join(',') },
      model: { type: 'string', default: 'llama3.1:8b' },
      'time-scale': { type: 'string', default: '100000' },
      'cpu-prof': { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
      'database-url': { type: 'string' },
      'cpu-at': { type: 'string', default: '32' },
    },
  });
  const systems = values.systems.split(',').map((s) => s.trim()) as SystemName[];
  const unknown = systems.filter((s) => !SYSTEMS.includes(s));
  if (unknown.length) throw new Error(`unknown system(s) ${unknown.join(', ')}; expected some of ${SYSTEMS.join(', ')}`);
  return {
    requests: Number(values.requests),
    streams: Number(values.streams),
    seconds: Number(values.seconds),
    connections: values.connections.split(',').map(Number),
    openStreams: Number(values['open-streams']),
    systems: new Set(systems),
    model: values.model,
    timeScale: Number(values['time-scale']),
    cpuProf: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined,
    keepLogs: values['keep-logs'],
    databaseUrl: values['database-url'],
    /** The connection count whose CPU per request (and --cpu-prof profiles) is measured; 32 is the issue's headline. */
    cpuAt: Number(values['cpu-at']),
  };
}

/** Lines in each service's log file (LOG_DIR/<service>.log). */
function logLines(dir: string): Record<string, number> {
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => [f.replace(/\.log$/, ''), readFileSync(path.join(dir, f), 'utf8').split('\n').length - 1]),
  );
}

const progress = (msg: string) => process.stderr.write(`[overhead] ${msg}\n`);

interface Row {
  p50: number;
  p99: number;
  mean: number;
}

function summary(xs: number[]): Row {
  const ok = xs.filter(Number.isFinite);
  return { p50: percentile(ok, 50), p99: percentile(ok, 99), mean: ok.reduce((a, b) => a + b, 0) / ok.length };
}

/** Retries `fn` until it resolves or `ms` pass (the worker loads its model after the stack is up). */
async function until<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function runOverheadBench(): Promise<void> {
  const o = flags();
  const model = loadModelCatalogue(path.join(REPO_ROOT, 'deploy/models.yaml')).find((m) => m.name === o.model);
  if (!model) throw new Error(`${o.model} is not in deploy/models.yaml`);
  const started: Started[] = [];
  /** Last started, first stopped (the simulator outlives what calls it). */
  const stopAll = async () => {
    for (const s of started.splice(0).reverse()) await s.stop().catch(() => undefined);
  };
  const onSignal = () => void stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress(`simulator (time scale ${o.timeScale}, num_ctx ${model.contextWindow}, 4 slots)`);
    const sim = await startSimulator({ timeScale: o.timeScale, contextLength: model.contextWindow, numParallel: 4 });
    started.push(sim);
    const payload = { model: o.model, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 1, temperature: 0 };
    const bodies = { body: JSON.stringify(payload), streamBody: JSON.stringify({ ...payload, max_tokens: 8, stream: true }) };
    const json = { 'content-type': 'application/json' };
    const targets = new Map<SystemName, Target>();
    const pids = new Map<SystemName, () => Record<string, number>>();
    targets.set('direct', { name: 'simulator directly', url: `${sim.url}/v1/chat/completions`, headers: json, ...bodies });
    pids.set('direct', sim.pids);
    if (o.systems.has('portkey')) {
      progress('Portkey gateway');
      const portkey = await startPortkey();
      started.push(portkey);
      targets.set('portkey', {
        name: 'Portkey gateway',
        url: `${portkey.url}/v1/chat/completions`,
        headers: { ...json, 'x-portkey-provider': 'ollama', 'x-portkey-custom-host': sim.url },
        ...bodies,
      });
      pids.set('portkey', () => ({ ...portkey.pids(), 'ollama-sim': sim.pid }));
    }
    let stack: Awaited<ReturnType<typeof startSwitchyard>> | undefined;
    let database: BenchDatabase | undefined;
    if (o.systems.has('switchyard')) {
      progress('Switchyard stack (tools/launcher)');
      const env: NodeJS.ProcessEnv = {
        // Room for the held streams in the queue.
        EDGE_QUEUE_BOUND: String(Math.max(256, o.openStreams * 2)),
        // No refusal on expected wait: the benchmark measures what the path costs, not admission's
        // judgement of a deep queue (before cfb411e the estimate read the simulator's simulated durations).
        EDGE_MAX_EXPECTED_WAIT_MS: String(86_400_000),
      };
      if (o.cpuProf) {
        mkdirSync(o.cpuProf, { recursive: true });
        Object.assign(env, profilingEnv(o.cpuProf));
      }
      if (o.databaseUrl) {
        progress('a fresh PostgreSQL database for auth and batch');
        const db = await createBenchDatabase(o.databaseUrl);
        started.push({ url: db.url, pids: () => ({}), stop: () => db.drop() });
        env.DATABASE_URL = db.url;
        database = db;
      }
      stack = await startSwitchyard({ ollamaUrl: sim.url, env, keepLogs: o.keepLogs });
      if (o.keepLogs) progress(`the stack's logs: ${stack.logDir} (kept)`);
      started.push(stack);
      targets.set('switchyard', { name: 'Switchyard', url: `${stack.url}/v1/chat/completions`, headers: { ...json, authorization: `Bearer ${stack.key}` }, ...bodies });
      const s = stack;
      pids.set('switchyard', () => ({ ...s.pids(), 'ollama-sim': sim.pid }));
    }
    const order = SYSTEMS.filter((s) => targets.has(s));
    const one = agent(1);
    progress('waiting for every system to answer, then warming up');
    for (const s of order) await until(() => call(targets.get(s)!, one), 120_000);
    for (let i = 0; i < 200; i++) for (const s of order) await call(targets.get(s)!, one);
    const edgePid = stack?.pids().edge;
    const rssIdle = edgePid ? rssMb(edgePid) : NaN;

    progress(`latency: ${o.requests} sequential non-stream requests per system, interleaved`);
    const latency = new Map<SystemName, number[]>(order.map((s) => [s, []]));
    for (let i = 0; i < o.requests; i++) for (const s of order) latency.get(s)!.push(await call(targets.get(s)!, one));

    progress(`streams: ${o.streams} sequential streams per system, interleaved`);
    const ttft = new Map<SystemName, number[]>(order.map((s) => [s, []]));
    const streamErrors = new Map<SystemName, string>();
    for (let i = 0; i < o.streams; i++) {
      for (const s of order) {
        if (streamErrors.has(s)) continue;
        try {
          ttft.get(s)!.push((await streamCall(targets.get(s)!, one)).ttft);
        } catch (err) {
          streamErrors.set(s, err instanceof Error ? err.message : String(err));
        }
      }
    }
    await one.close();

    const throughput = new Map<SystemName, Throughput[]>(order.map((s) => [s, []]));
    const cpu = new Map<SystemName, { requests: number; seconds: Record<string, number> }>();
    let redisCommands: { requests: number; counts: Array<[string, number]> } | undefined;
    for (const c of o.connections) {
      for (const s of order) {
        progress(`throughput: ${s}, ${c} connections × ${o.seconds} s`);
        const named = pids.get(s)!();
        const backends = s === 'switchyard' && database ? await database.backendPids() : [];
        const meter = new CpuMeter({ ...named, 'load client (this process)': process.pid }, { postgres: backends });
        let seconds: Record<string, number> = {};
        // At o.cpuAt connections: CPU meters, and the stack's CPU profiles (--cpu-prof) over the same window.
        const profile = () => {
          if (!o.cpuProf || s !== 'switchyard') return;
          for (const p of PROFILED) {
            try {
              process.kill(named[p], 'SIGWINCH');
            } catch (err) {
              progress(`could not signal ${p} (${named[p]}) to profile: ${String(err)}`);
            }
          }
        };
        const commands = s === 'switchyard' && stack && c === o.cpuAt ? new RedisCommandMeter(stack.redisUrl) : undefined;
        const window =
          c === o.cpuAt
            ? {
                open: () => (meter.start(), commands?.start(), profile()),
                close: () => ((seconds = meter.stop()), profile()),
              }
            : {};
        const r = await closedLoop(targets.get(s)!, c, o.seconds, 1, window);
        if (c === o.cpuAt) cpu.set(s, { requests: r.requests, seconds });
        if (commands) {
          redisCommands = { requests: r.requests, counts: await commands.stop() };
          commands.close();
        }
        throughput.get(s)!.push(r);
        await new Promise((r) => setTimeout(r, 500));
      }
    }

    let held: HeldStreams | undefined;
    let rssOpen = NaN;
    let rssAfter = NaN;
    if (stack && edgePid && o.openStreams > 0) {
      progress(`memory: ${o.openStreams} streams held open at once through the edge (simulator paused)`);
      process.kill(sim.pid, 'SIGSTOP');
      held = await holdStreams(targets.get('switchyard')!, o.openStreams, {
        whileOpen: async () => {
          await new Promise((r) => setTimeout(r, 1000));
          rssOpen = rssMb(edgePid);
        },
        release: () => process.kill(sim.pid, 'SIGCONT'),
      }).finally(() => process.kill(sim.pid, 'SIGCONT'));
      await new Promise((r) => setTimeout(r, 3000));
      rssAfter = rssMb(edgePid);
    }

    if (stack) {
      const lines = logLines(stack.logDir);
      console.error(`[overhead] log lines written by the stack over the run: ${Object.entries(lines).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
    report(o, order, targets, latency, ttft, streamErrors, throughput, cpu, { idle: rssIdle, open: rssOpen, after: rssAfter, held });
    if (redisCommands && redisCommands.requests > 0) {
      const { requests, counts } = redisCommands;
      const per = (n: number) => fmt(n / requests, 2);
      const total = counts.reduce((a, [, n]) => a + n, 0);
      console.log(`\nRedis commands per request through Switchyard at ${o.cpuAt} connections (INFO commandstats, the calls inside Lua scripts included; ${per(total)} in all)`);
      console.log(`  ${counts.map(([cmd, n]) => `${cmd} ${per(n)}`).join(', ')}`);
    }
    if (o.cpuProf && stack && o.connections.includes(o.cpuAt)) {
      const named = stack.pids();
      for (const name of PROFILED) {
        const file = await profileOf(o.cpuProf, named[name]);
        if (!file) {
          console.log(`\nno CPU profile of ${name} in ${o.cpuProf}`);
          continue;
        }
        const { busyMs, functions, areas } = selfTime(file, 20);
        const rows = (xs: typeof areas) => xs.map((t) => [t.name, fmt(t.ms, 0), `${fmt(t.share * 100, 1)}%`]);
        console.log(`\nSelf time, ${name}, over the ${o.seconds} s at ${o.cpuAt} connections (${fmt(busyMs / 1000, 2)} s busy; ${file})`);
        console.log(table(['area', 'self ms', 'share'], rows(areas.slice(0, 12))));
        console.log(table(['function', 'self ms', 'share'], rows(functions)));
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}

function report(
  o: ReturnType<typeof flags>,
  order: SystemName[],
  targets: Map<SystemName, Target>,
  latency: Map<SystemName, number[]>,
  ttft: Map<SystemName, number[]>,
  streamErrors: Map<SystemName, string>,
  throughput: Map<SystemName, Throughput[]>,
  cpu: Map<SystemName, { requests: number; seconds: Record<string, number> }>,
  memory: { idle: number; open: number; after: number; held?: HeldStreams },
): void {
  const name = (s: SystemName) => targets.get(s)!.name;
  const lat = new Map(order.map((s) => [s, summary(latency.get(s)!)]));
  const tt = new Map(order.map((s) => [s, summary(ttft.get(s)!)]));
  const base = lat.get('direct')!;
  const ttBase = tt.get('direct')!;
  const added = (x: number, b: number, s: SystemName) => (s === 'direct' ? `(${fmt(x)} itself)` : `+${fmt(x - b)}`);
  console.log(`\nGateway overhead — ${o.model}, max_tokens 1 (streams 8), simulator time scale ${o.timeScale}, ${new Date().toISOString()}`);
  console.log(`\nNon-stream latency, ${o.requests} sequential requests per system (ms; added = over calling the simulator directly)`);
  console.log(
    table(
      ['system', 'p50 added', 'p99 added', 'p50', 'p99', 'mean'],
      order.map((s) => {
        const r = lat.get(s)!;
        return [name(s), added(r.p50, base.p50, s), added(r.p99, base.p99, s), fmt(r.p50), fmt(r.p99), fmt(r.mean)];
      }),
    ),
  );
  console.log(`\nStreams, time to first token, ${o.streams} sequential streams per system (ms)`);
  console.log(
    table(
      ['system', 'p50 added', 'p99 added', 'p50', 'p99'],
      order.map((s) => {
        const r = tt.get(s)!;
        if (streamErrors.has(s) && ttft.get(s)!.length === 0) return [name(s), 'failed', '', '', ''];
        return [name(s), added(r.p50, ttBase.p50, s), added(r.p99, ttBase.p99, s), fmt(r.p50), fmt(r.p99)];
      }),
    ),
  );
  for (const [s, err] of streamErrors) console.log(`  ${name(s)}: ${err.slice(0, 200)}`);
  console.log(`\nRequests/s, closed loops of N connections, ${o.seconds} s each (p50 / p99 ms in brackets; errors if any)`);
  console.log(
    table(
      ['system', ...o.connections.map((c) => `${c} conn`)],
      order.map((s) => [
        name(s),
        ...throughput.get(s)!.map((t) => `${fmt(t.rps, 0)} (${fmt(t.p50, 1)} / ${fmt(t.p99, 1)})${t.errors ? ` ${t.errors} err` : ''}`),
      ]),
    ),
  );
  for (const s of order) for (const t of throughput.get(s)!) if (t.firstError) console.log(`  ${name(s)} at ${t.connections}: ${t.firstError.slice(0, 200)}`);
  const procs = [...new Set(order.flatMap((s) => Object.keys(cpu.get(s)?.seconds ?? {})))];
  console.log(`\nCPU per request at ${o.cpuAt} connections, by process (ms of CPU; /proc/<pid>/stat, 10 ms ticks)`);
  const perReq = (s: SystemName, p: string) => {
    const c = cpu.get(s);
    const sec = c?.seconds[p];
    return c && sec !== undefined && c.requests > 0 ? fmt((sec * 1000) / c.requests, 3) : '';
  };
  const total = (s: SystemName) => {
    const c = cpu.get(s);
    if (!c || c.requests === 0) return '';
    return fmt((Object.values(c.seconds).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) * 1000) / c.requests, 3);
  };
  console.log(table(['process', ...order.map(name)], [...procs.map((p) => [p, ...order.map((s) => perReq(s, p))]), ['all', ...order.map(total)]]));
  if (order.includes('switchyard')) {
    const h = memory.held;
    console.log('\nEdge memory (RSS, MB)');
    console.log(
      table(
        ['', 'MB'],
        [
          ['idle (after warm-up)', fmt(memory.idle, 0)],
          [`${o.openStreams} streams open at once`, fmt(memory.open, 0)],
          ['3 s after they closed', fmt(memory.after, 0)],
        ],
      ),
    );
    if (h) console.log(`  streams: ${h.opened} opened, ${h.completed} completed with [DONE], ${h.failed} failed${h.firstError ? ` (first: ${h.firstError.slice(0, 200)})` : ''}`);
  }
  console.log(
    JSON.stringify({
      bench: 'gateway-overhead',
      model: o.model,
      latencyMs: Object.fromEntries(lat),
      ttftMs: Object.fromEntries(tt),
      throughput: Object.fromEntries(order.map((s) => [s, throughput.get(s)!.map((t) => ({ connections: t.connections, rps: t.rps, p50: t.p50, p99: t.p99, errors: t.errors }))])),
      cpuAt: o.cpuAt,
      cpu: Object.fromEntries(cpu),
      edgeRssMb: { idle: memory.idle, open: memory.open, after: memory.after, streams: memory.held },
    }),
  );
}
