/**
 * A short benchmark of the simulator against its configured figures: per model, load seconds,
 * prompt tokens/s, one-stream generation tokens/s and the four-slot aggregate, each measured by
 * the client's clock (converted to simulated time) and as the server reports it.
 *
 *   npm run bench -- sim [--time-scale N] [--models a,b] [--seconds S] [--url URL]
 *
 * Without --url it starts a simulator in-process with --time-scale (default 1); with --url it
 * benchmarks that server (and resets its /sim/stats). Each measurement lasts about max(S simulated
 * seconds, 1 real second); S defaults to 2. It measures; it does not pass or fail.
 */
import { performance } from 'node:perf_hooks';
// The simulator's own catalogue and server, run in-process.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { Catalogue, defaultCatalogue, SimModel } from '../../ollama-sim/src/catalogue';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { RunningSimulator, startSimulator } from '../../ollama-sim/src/server';

interface Args {
  timeScale: number;
  models: string[];
  seconds: number;
  url?: string;
}

function parseCli(argv: string[]): Args {
  const args: Args = { timeScale: 1, models: ['llama3.1:8b', 'codellama:13b', 'codestral:22b', 'mistral-large:123b'], seconds: 2 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = inline ?? argv[++i];
    if (flag === '--time-scale') args.timeScale = Number(value);
    else if (flag === '--models') args.models = value.split(',').filter(Boolean);
    else if (flag === '--seconds') args.seconds = Number(value);
    else if (flag === '--url') args.url = value;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

interface Final {
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
  error?: string;
}

interface Timed {
  final: Final;
  sentAt: number;
  firstTokenAt: number;
  doneAt: number;
  /** Arrival time of every token line. */
  arrivals: number[];
}

/** POST /api/generate (raw, streaming) and time the arrival of the first token and of the end. */
async function generate(url: string, body: Record<string, unknown>): Promise<Timed> {
  const sentAt = performance.now();
  const res = await fetch(`${url}/api/generate`, { method: 'POST', body: JSON.stringify({ raw: true, stream: true, ...body }) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let firstTokenAt = 0;
  let final: Final | undefined;
  const arrivals: number[] = [];
  for await (const chunk of res.body) {
    const now = performance.now();
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (!line) continue;
      const msg = JSON.parse(line) as Final & { done?: boolean };
      if (msg.error) throw new Error(msg.error);
      if (firstTokenAt === 0) firstTokenAt = now;
      if (msg.done) final = msg;
      else arrivals.push(now);
    }
  }
  if (!final) throw new Error('stream ended without done');
  return { final, sentAt, firstTokenAt, doneAt: performance.now(), arrivals };
}

/** A raw prompt of exactly n tokens by the simulator's count (n − 1 short words, plus one). */
const promptOf = (n: number) => Array.from({ length: Math.max(0, n - 1) }, () => 'tok').join(' ');

function pct(measured: number, configured: number): string {
  const d = ((measured - configured) / configured) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
}

interface Row {
  model: string;
  what: string;
  configured: number;
  measured: number;
  reported?: number;
  note?: string;
}

async function benchModel(url: string, m: SimModel, timeScale: number, seconds: number, cfg: { bandwidth: number; startup: number; exponent: number; parallel: number }): Promise<Row[]> {
  const simTarget = Math.max(seconds, timeScale); // at least one real second per measurement
  const numCtx = Math.min(32768, m.contextLength);
  const options = { num_ctx: numCtx };
  const rows: Row[] = [];

  // Load: a cold preload (empty prompt) minus a warm one, so HTTP cancels out; at high time-scales
  // a load is a few real ms, so take the median of five. The server's figure is its load time
  // from /sim/stats.
  const preload = async (keepAlive: number) => {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: m.name, prompt: '', keep_alive: keepAlive, options }) });
    const body = (await res.json()) as { done_reason?: string; error?: string };
    if (body.error) throw new Error(body.error);
    return performance.now() - t0;
  };
  await fetch(`${url}/sim/reset`, { method: 'POST' });
  const loads: number[] = [];
  for (let i = 0; i < (timeScale >= 10 ? 5 : 1); i++) {
    if (i > 0) await preload(0);
    const cold = await preload(-1);
    const warm = await preload(-1);
    loads.push(((cold - warm) / 1000) * timeScale);
  }
  const loadStats = (await (await fetch(`${url}/sim/stats`)).json()) as { models: Record<string, { loads: number; loading_seconds_sim: number }> };
  const ms = loadStats.models[m.name];
  rows.push({
    model: m.name,
    what: 'load s',
    configured: m.sizeGb / cfg.bandwidth + cfg.startup,
    measured: [...loads].sort((a, b) => a - b)[Math.floor(loads.length / 2)],
    reported: ms.loading_seconds_sim / ms.loads,
  });
  const tiny = { model: m.name, prompt: 'x', keep_alive: -1, options: { ...options, num_predict: 1 } };
  await generate(url, tiny);
  const warm = await generate(url, tiny);
  const warmWall = warm.doneAt - warm.sentAt;

  // Prompt processing: a long prompt, one token out; the warm tiny request's time is subtracted.
  const promptTokens = Math.min(numCtx - 8, Math.round(m.promptTokensPerS * simTarget));
  const long = await generate(url, { model: m.name, prompt: promptOf(promptTokens), keep_alive: -1, options: { ...options, num_predict: 1 } });
  const promptSim = ((long.doneAt - long.sentAt - warmWall) / 1000) * timeScale;
  rows.push({
    model: m.name,
    what: 'prompt tok/s',
    configured: m.promptTokensPerS,
    measured: (long.final.prompt_eval_count - warm.final.prompt_eval_count) / promptSim,
    reported: long.final.prompt_eval_count / (long.final.prompt_eval_duration / 1e9),
  });

  // One stream: tokens between the first and the last arrival.
  const n = Math.max(20, Math.round(m.genTokensPerS * simTarget));
  const one = await generate(url, { model: m.name, prompt: 'go', keep_alive: -1, options: { ...options, num_predict: n } });
  rows.push({
    model: m.name,
    what: 'gen tok/s (1 stream)',
    configured: m.genTokensPerS,
    measured: (one.final.eval_count - 1) / (((one.doneAt - one.firstTokenAt) / 1000) * timeScale),
    reported: one.final.eval_count / (one.final.eval_duration / 1e9),
  });

  // All slots busy: tokens of all streams that arrived while every stream was running, over that
  // window (client clock). The server's tokens over busy time (/sim/stats) is printed for
  // information: it includes the ramp up and down as requests arrive and finish one by one.
  const slots = cfg.parallel;
  const perStream = Math.max(20, Math.round(m.genTokensPerS * slots ** (cfg.exponent - 1) * simTarget));
  await fetch(`${url}/sim/reset`, { method: 'POST' });
  const many = await Promise.all(
    Array.from({ length: slots }, (_, i) => generate(url, { model: m.name, prompt: `go ${i}`, keep_alive: -1, options: { ...options, num_predict: perStream } })),
  );
  const from = Math.max(...many.map((r) => r.arrivals[0]));
  const to = Math.min(...many.map((r) => r.arrivals[r.arrivals.length - 1]));
  // Each stream's rate inside the window: intervals between its arrivals there, over their span.
  const windowRate = many.reduce((sum, r) => {
    const inside = r.arrivals.filter((t) => t >= from && t <= to);
    return inside.length < 2 ? sum : sum + (inside.length - 1) / (inside[inside.length - 1] - inside[0]);
  }, 0);
  const busy = (await (await fetch(`${url}/sim/stats`)).json()) as { totals: { tokens_generated: number; busy_seconds_sim: number } };
  rows.push({
    model: m.name,
    what: `gen tok/s (${slots} streams, total)`,
    configured: m.genTokensPerS * slots ** cfg.exponent,
    measured: (windowRate * 1000) / timeScale,
  });
  rows[rows.length - 1].note = `server: ${(busy.totals.tokens_generated / busy.totals.busy_seconds_sim).toFixed(2)} tok/s over its busy time, ramps included`;
  return rows;
}

export async function runSimBench(argv: string[]): Promise<void> {
  const args = parseCli(argv);
  let sim: RunningSimulator | undefined;
  let url = args.url;
  if (!url) {
    sim = await startSimulator({ port: 0, timeScale: args.timeScale, logLevel: 'warn', maxLoaded: 1 });
    url = sim.urls[0];
  }
  try {
    const stats = (await (await fetch(`${url}/sim/stats`)).json()) as {
      time_scale: number;
      config: { load_bandwidth_gbps: number; load_startup_s: number; parallel_exponent: number; num_parallel: number };
    };
    const timeScale = stats.time_scale;
    const cfg = {
      bandwidth: stats.config.load_bandwidth_gbps,
      startup: stats.config.load_startup_s,
      exponent: stats.config.parallel_exponent,
      parallel: stats.config.num_parallel,
    };
    const catalogue = new Catalogue(defaultCatalogue());
    // Warm the HTTP connection and the code paths so the first model is not measured cold.
    for (let i = 0; i < 5; i++) await generate(url, { model: args.models[0], prompt: 'warm up', options: { num_predict: 50 } });
    await generate(url, { model: args.models[0], prompt: promptOf(20000), options: { num_ctx: 32768, num_predict: 1 } });
    await fetch(`${url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: args.models[0], prompt: '', keep_alive: 0 }) });
    await fetch(`${url}/sim/reset`, { method: 'POST' });
    console.log(`ollama-sim bench: ${url}, time-scale ${timeScale}; figures in simulated time (measured = client clock x time-scale)`);
    const rows: Row[] = [];
    for (const name of args.models) {
      const m = catalogue.find(name);
      if (!m) throw new Error(`unknown model ${name}`);
      const started = performance.now();
      const r = await benchModel(url, m, timeScale, args.seconds, cfg);
      rows.push(...r);
      for (const row of r) {
        console.log(
          `${row.model.padEnd(20)} ${row.what.padEnd(28)} configured ${row.configured.toFixed(2).padStart(9)}  measured ${row.measured.toFixed(2).padStart(9)} (${pct(row.measured, row.configured).padStart(6)})` +
            (row.reported !== undefined ? `  reported ${row.reported.toFixed(2).padStart(9)} (${pct(row.reported, row.configured).padStart(6)})` : '') +
            (row.note ? `  [${row.note}]` : ''),
        );
      }
      console.log(`${''.padEnd(20)} (${((performance.now() - started) / 1000).toFixed(1)} s real)`);
    }
    const worst = rows.reduce((w, r) => Math.max(w, Math.abs(r.measured - r.configured) / r.configured), 0);
    const worstReported = rows.reduce((w, r) => (r.reported === undefined ? w : Math.max(w, Math.abs(r.reported - r.configured) / r.configured)), 0);
    console.log(`largest deviation: measured ${(worst * 100).toFixed(2)}%, reported ${(worstReported * 100).toFixed(2)}%`);
  } finally {
    await sim?.close();
  }
}
