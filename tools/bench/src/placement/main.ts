import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { maxResidentModels } from '../belady';
import { BaselineKind } from '../proxies';
import { fmt } from '../stats';
import { readTrace, TraceEntry, writeTrace } from '../trace';
import { distinctModelsBound, fluidFifoTtftP95, inOrderLoadsBound, throughputBound } from './bounds';
import { BenchCatalogue, COMPUTE_SHARING, type ComputeSharing, DEFAULT_COMPUTE_SHARING, SIM_PARALLEL_EXPONENT } from './catalogue';
import { ClientPolicy, OPENAI_SDK_DEFAULTS } from './client';
import { RunRecord, writeReport, writeResults } from './report';
import { generateShape, isShape, ShapeName, SHAPES } from './shapes';
import { summarise } from './summary';
import { runBaseline, RunConfig, switchyardFractions, switchyardLoadEstimateSim, switchyardTimingsSim, SwitchyardPlatform, SystemResult } from './systems';

/**
 * `npm run bench -- [flags]`: the placement benchmark. For every trace shape × GPU configuration ×
 * seed it replays the trace against Switchyard and against the proxies people put in front of
 * Ollama, each on fresh, cold simulated GPUs, with the same client (the openai SDK's defaults in
 * simulated time), and reports per system and the spread over seeds.
 */

/** The README's headline run: the default seeds, so `npm run bench` reproduces it (the README's "Seeds" says which were tuned on and which are spent). */
const HELD_OUT_SEEDS = '12101,12102,12103';

const USAGE = `Usage: npm run bench -- [--quick] [--shape <${SHAPES.join('|')}|bursty|all>] [--seeds ${HELD_OUT_SEEDS}] [--gpus 4x80,2x40]
       [--requests N] [--load 0.8 | --rate-per-gpu R] [--models M] [--zipf S] [--trace FILE] [--time-scale X] [--out DIR]
       [--systems switchyard,round-robin,least-busy,affinity] [--no-bulk-as-batch] [--no-bulk] [--bulk-compare]
       [--retry-after-cap-s S] [--time-scale 20] [--proxy-time-scale 50] [--serial] [--sim-compute-sharing per-gpu|per-model]
  --shape            trace shape(s), comma-separated or all (default all)
  --seeds            trace seeds (default ${HELD_OUT_SEEDS}, the README's headline; tuning seeds: 3–6)
  --gpus             GPU configurations, COUNTxGB (default 4x80,2x40)
  --load L           offered load: the trace's mean rate is L × what the GPUs could complete of its mix with
                     every slot busy and no loads (default 0.8: a busy cluster, overloaded once loads count)
  --rate-per-gpu R   instead, a fixed mean rate of R requests per simulated second per GPU
  --trace FILE       replay this trace (JSONL: t, model, prompt_tokens, max_tokens, stream, priority, user) instead
  --bulk-as-batch    (default on) Switchyard gets the bulk entries as one Batch API job; the proxies as requests
  --no-bulk          drop the bulk entries; --bulk-compare also runs Switchyard without them (switchyard-no-bulk)
  --retry-after-cap-s  ignore a server's Retry-After above this (the openai SDK 4.x rule; 6.x, installed, obeys any)
  --time-scale       Switchyard's simulated clock speed (default 20); --proxy-time-scale the proxies' (default 50):
                     each is set where its figures no longer change with it (README); times are reported simulated
  --side-by-side     run the three proxies at once, each on its own GPUs (before 2026-12-04 the default; on two
                     cores they slow each other: affinity's cold-burst p95 at 4x80 about doubles). Default: one at
                     a time, each system alone on the machine as Switchyard is (--serial says so explicitly)
  --sim-compute-sharing  per-gpu (default: models busy at once on a GPU take turns on it, as on real GPUs) or
                     per-model (each loaded model has compute of its own, as figures before 2026-12-03); every system alike
  --quick            steady shape, seed 1, 2x40, 200 requests`;

export async function runPlacementBench(argv = process.argv.slice(2)): Promise<void> {
  const noBulkAsBatch = argv.includes('--no-bulk-as-batch');
  const { values: flags } = parseArgs({
    args: argv.filter((a) => a !== '--no-bulk-as-batch'),
    options: {
      shape: { type: 'string' },
      seeds: { type: 'string' },
      seed: { type: 'string' },
      gpus: { type: 'string' },
      'num-parallel': { type: 'string', default: '4' },
      trace: { type: 'string' },
      requests: { type: 'string' },
      models: { type: 'string', default: '18' },
      zipf: { type: 'string', default: '1.1' },
      'rate-per-gpu': { type: 'string' },
      load: { type: 'string', default: '0.8' },
      'time-scale': { type: 'string' },
      'proxy-time-scale': { type: 'string' },
      serial: { type: 'boolean', default: false },
      'side-by-side': { type: 'boolean', default: false },
      'no-warmup': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-out' },
      quick: { type: 'boolean', default: false },
      systems: { type: 'string', default: 'switchyard,round-robin,least-busy,affinity' },
      'bulk-as-batch': { type: 'boolean', default: true },
      'no-bulk': { type: 'boolean', default: false },
      'bulk-compare': { type: 'boolean', default: false },
      'retry-after-cap-s': { type: 'string' },
      'sim-compute-sharing': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const quick = flags.quick;
  const shapes = (flags.shape ?? (quick ? 'steady' : 'all')) === 'all' ? [...SHAPES] : (flags.shape ?? 'steady').split(',').map((s) => s.trim());
  for (const s of shapes) if (!isShape(s)) throw new Error(`unknown shape ${s} (${SHAPES.join(', ')}, bursty, all)`);
  const seeds = (flags.seeds ?? flags.seed ?? (quick ? '1' : HELD_OUT_SEEDS)).split(',').map(Number);
  const gpuConfigs = (flags.gpus ?? (quick ? '2x40' : '4x80,2x40')).split(',').map((g) => {
    const m = /^(\d+)x(\d+)$/.exec(g.trim());
    if (!m) throw new Error(`--gpus ${g}: expected COUNTxGB, e.g. 4x80`);
    return { label: g.trim(), gpus: Number(m[1]), vramGb: Number(m[2]) };
  });
  const numParallel = Number(flags['num-parallel']);
  if (flags.serial && flags['side-by-side']) throw new Error('--serial and --side-by-side contradict each other');
  // Each system alone on the machine: three proxies at once on two cores slowed each other (README, *Equal terms*).
  const sideBySide = flags['side-by-side'] === true;
  const timeScale = Number(flags['time-scale'] ?? 20);
  const proxyTimeScale = Number(flags['proxy-time-scale'] ?? 50);
  const requests = Number(flags.requests ?? (quick ? 200 : 1200));
  const outDir = path.resolve(flags.out);
  const client: ClientPolicy = { ...OPENAI_SDK_DEFAULTS, ...(flags['retry-after-cap-s'] ? { retryAfterCapMs: Number(flags['retry-after-cap-s']) * 1000 } : {}) };
  const catalogue = new BenchCatalogue(numParallel);
  const systems = flags.systems.split(',').map((s) => s.trim());
  const sharing = flags['sim-compute-sharing'];
  if (sharing !== undefined && !(COMPUTE_SHARING as readonly string[]).includes(sharing)) throw new Error(`--sim-compute-sharing ${sharing}: expected ${COMPUTE_SHARING.join(' or ')}`);
  const computeSharing = (sharing ?? DEFAULT_COMPUTE_SHARING) as ComputeSharing;
  mkdirSync(path.join(outDir, 'runs'), { recursive: true });

  const runs: RunRecord[] = [];
  const traces: Array<Record<string, unknown>> = [];
  const started = Date.now();
  for (const g of gpuConfigs) {
    const cfg: RunConfig = { gpus: g.gpus, vramGb: g.vramGb, numParallel, timeScale, maxLoaded: 3, bulkAsBatch: flags['bulk-as-batch'] && !noBulkAsBatch, client, catalogue, verbose: true, computeSharing };
    const proxyCfg: RunConfig = { ...cfg, timeScale: proxyTimeScale };
    const models = catalogue.pickModels(Number(flags.models), g.vramGb);
    // The mean rate: fixed per GPU, or the load × the GPUs' limit on this trace's mix (which does not
    // depend on the rate: arrival times scale with it, the requests stay the same).
    const rateFor = (shape: ShapeName, seed: number) => {
      if (flags['rate-per-gpu']) return Number(flags['rate-per-gpu']) * g.gpus;
      const pilot = generateShape(shape, { models, requests, rate: 1, seed, zipf: Number(flags.zipf) });
      return Number(flags.load) * throughputBound(pilot, catalogue.speedOf, g.gpus, numParallel, SIM_PARALLEL_EXPONENT).capacityRate;
    };
    const platform = systems.includes('switchyard') ? await SwitchyardPlatform.start(cfg) : undefined;
    try {
      if (platform && !flags['no-warmup']) {
        // Unmeasured: lets Switchyard learn service and load times once, so no measured run is its first.
        const warm = generateShape('steady', { models, requests: 60, rate: rateFor('steady', 0), seed: 0 });
        const t0 = Date.now();
        await platform.run(warm, 'switchyard-warmup');
        console.error(`  switchyard warm-up (60 requests, seed 0): ${fmt((Date.now() - t0) / 1000, 0)} s real`);
      }
      for (const shape of flags.trace ? ['file'] : shapes) {
        for (const seed of flags.trace ? [0] : seeds) {
          const full: TraceEntry[] = flags.trace
            ? readTrace(flags.trace)
            : generateShape(shape as ShapeName, { models, requests, rate: rateFor(shape as ShapeName, seed), seed, zipf: Number(flags.zipf) });
          const withoutBulk = full.filter((e) => e.priority !== 'bulk');
          const trace = flags['no-bulk'] ? withoutBulk : full;
          const tag = `${shape}-${g.label}-${seed}`;
          writeTrace(path.join(outDir, 'runs', `${tag}.trace.jsonl`), trace);
          const used = [...new Set(trace.map((e) => e.model))];
          const capacity = maxResidentModels(
            used.map((m) => catalogue.footprintBytes(m)),
            new Array<number>(g.gpus).fill(g.vramGb * 1e9),
            cfg.maxLoaded,
          );
          const bound = throughputBound(trace, catalogue.speedOf, g.gpus, numParallel, SIM_PARALLEL_EXPONENT);
          const footprint = used.reduce((a, m) => a + catalogue.footprintBytes(m), 0);
          const info = {
            tag,
            shape,
            gpus: g.label,
            seed,
            requests: trace.length,
            bulk: trace.filter((e) => e.priority === 'bulk').length,
            users: new Set(trace.map((e) => e.user)).size,
            models: used.length,
            footprintOverMemory: footprint / (g.gpus * g.vramGb * 1e9),
            lastArrivalS: trace[trace.length - 1]?.t ?? 0,
            distinctModels: distinctModelsBound(trace),
            inOrderLoads: inOrderLoadsBound(trace, capacity),
            capacity,
            throughput: bound,
            fluidFifoTtftP95: fluidFifoTtftP95(trace, catalogue.speedOf, g.gpus, numParallel, SIM_PARALLEL_EXPONENT),
          };
          traces.push(info);
          console.error(
            `\n${tag}: ${trace.length} requests (${info.bulk} bulk, ${info.users} users) over ${fmt(info.lastArrivalS, 0)} s, ${used.length} models = ${fmt(info.footprintOverMemory, 1)}× the GPUs' memory; ` +
              `offered ${fmt(bound.offeredRate, 2)} req/s, the GPUs' limit on this mix ${fmt(bound.capacityRate, 2)} req/s; loads ≥ ${info.distinctModels} (any system), ≥ ${info.inOrderLoads} (in-order service); ` +
              `interactive p95 TTFT of one fluid first-come-first-served server with no loads ${fmt(info.fluidFifoTtftP95, 1)} s (a reference, not a bound)`,
          );
          const raws: SystemResult[] = [];
          if (platform) {
            const t0 = Date.now();
            raws.push(await platform.run(trace));
            if (flags['bulk-compare'] && !flags['no-bulk'] && withoutBulk.length < trace.length) raws.push(await platform.run(withoutBulk, 'switchyard-no-bulk'));
            console.error(`  switchyard: ${fmt((Date.now() - t0) / 1000, 0)} s real`);
          }
          const proxies = systems.filter((x) => x !== 'switchyard') as BaselineKind[];
          const runProxy = async (kind: BaselineKind) => {
            const t0 = Date.now();
            const r = await runBaseline(kind, trace, proxyCfg);
            console.error(`  ${kind}: ${fmt((Date.now() - t0) / 1000, 0)} s real`);
            return r;
          };
          if (sideBySide) raws.push(...(await Promise.all(proxies.map(runProxy))));
          else for (const k of proxies) raws.push(await runProxy(k));
          for (const r of raws) {
            writeFileSync(path.join(outDir, 'runs', `${tag}.${r.system}.jsonl`), r.results.map((x) => JSON.stringify(x)).join('\n') + '\n');
            const bulk = r.trace.filter((e) => e.priority === 'bulk');
            const summary = summarise({
              system: r.system,
              results: r.results,
              batchDoneMs: r.batch ? (Number.isFinite(r.batch.completedAtMs) ? r.batch.completedAtMs : r.batch.observedDoneMs) * (r.system.startsWith('switchyard') ? timeScale : proxyTimeScale) : undefined,
              loads: r.loads,
              loadingSecondsSim: r.loadingSecondsSim,
              gpuBusySecondsSim: r.gpuBusySecondsSim,
              fullBatchSecondsSim: r.fullBatchSecondsSim,
              gpus: g.gpus,
              distinctModels: distinctModelsBound(r.trace),
              inOrderLoads: r.trace === trace ? info.inOrderLoads : inOrderLoadsBound(r.trace, capacity),
              maxRate: r.trace === trace ? bound.maxRate : throughputBound(r.trace, catalogue.speedOf, g.gpus, numParallel, SIM_PARALLEL_EXPONENT).maxRate,
              lastArrivalS: r.trace[r.trace.length - 1]?.t ?? 0,
              firstBulkS: bulk.length ? Math.min(...bulk.map((e) => e.t)) : 0,
            });
            runs.push({ shape, gpus: g.label, seed, summary: { ...summary, ...(r.notes.length ? { notes: r.notes } : {}), ...(r.batch ? { batch: r.batch } : {}) } });
            if (r.notes.length) console.error(`  ${r.system}: ${r.notes.join('; ')}`);
          }
          // Keep results as they come, so a long matrix leaves something behind if stopped.
          writeResults(outDir, { runs, traces, partial: true });
        }
      }
    } finally {
      await platform?.stop();
    }
  }
  const minutes = (Date.now() - started) / 60000;
  const config = { shapes, seeds, gpus: gpuConfigs.map((g) => g.label), numParallel, timeScale, proxyTimeScale, requests, ratePerGpu: flags['rate-per-gpu'] ? Number(flags['rate-per-gpu']) : undefined, load: flags['rate-per-gpu'] ? undefined : Number(flags.load), systems, client, switchyardTimingsSim: switchyardTimingsSim(), switchyardLoadEstimateSim: switchyardLoadEstimateSim(), switchyardFractions: switchyardFractions(), simComputeSharing: computeSharing, ...(sideBySide ? {} : { proxiesOneAtATime: true }), trace: flags.trace, minutes };
  writeReport(outDir, { config, traces, runs }, `${runs.length} system runs in ${fmt(minutes, 1)} min (time scale: Switchyard ${timeScale}, proxies ${proxyTimeScale}).`);
  console.log(`wrote ${path.join(outDir, 'results.json')}, summary.md, chart.svg, traces and every request in ${path.join(outDir, 'runs')}`);
}
