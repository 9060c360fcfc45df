/**
 * The dashboards and alerts against a real Prometheus: the platform started as `npm start` starts
 * it, a Prometheus of the test's own scraping it every second with the project's scrape
 * configuration and alert rules (every `for:` rewritten to 0 s: see prometheus.ts), ordinary
 * traffic that loads and evicts models (big models on the two simulated 80 GB GPUs) and gets
 * 400/401/404/429 answers, then a worker killed and restarted by the launcher. Asserts that no alert
 * fires while the platform is healthy, that the worker's loss fires the alerts meant for it, and that
 * every panel query of deploy/grafana/dashboards returns data, with "All" and with real values.
 * What each panel showed in each phase is printed (`# dashboards:` lines).
 *
 * A fault spec: tools/scripts/test.mjs runs it after the other tests, alone. Skipped (with the
 * reason) where `prometheus` is not installed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { hasData, interpolate, readDashboards, summarise } from './dashboards';
import { admin, type Platform, startPlatform } from './platform';
import { type OwnPrometheus, prometheusMissing, type Series, startPrometheus } from './prometheus';

const HOT = 'llama3.1:8b';
const EMBED = 'nomic-embed-text';
/** 40 to 47 GB each: two fit on an 80 GB GPU beside the pinned model only one at a time. */
const BIG = ['llama3.1:70b', 'llama3.3:70b', 'qwen2.5:72b', 'llama3.1:70b', 'mixtral:8x7b', 'llama3.3:70b'];
/** Alerts a worker's loss must fire, and those it may also fire (its running streams end in a 503). */
const LOSS_ALERTS = ['SwitchyardWorkerDisconnected', 'SwitchyardWorkerDown'];
const LOSS_MAY_ALSO = ['SwitchyardHigh503Rate'];

const say = (line: string) => console.log(`# dashboards: ${line}`);
const now = () => Date.now() / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

const missing = prometheusMissing();

describe('the Grafana dashboards and the alert rules against a real Prometheus', { skip: missing }, () => {
  let p: Platform;
  let prom: OwnPrometheus;
  let sdk: OpenAI;
  /** Phases, Unix seconds: every target scraped, traffic starts, normal traffic ends, a worker killed, the end. */
  const t = { scraping: 0, start: 0, healthyEnd: 0, killedAt: 0, end: 0 };
  let killedInstance = '';
  let hotRunning = false;
  let hotLoop: Promise<void> = Promise.resolve();
  const statuses = new Map<string, number>();

  const count = (what: string) => statuses.set(what, (statuses.get(what) ?? 0) + 1);
  const attempt = async (what: string, call: () => Promise<unknown>) => {
    try {
      await call();
      count(`${what} 200`);
    } catch (err) {
      count(`${what} ${(err as { status?: number }).status ?? 'error'}`);
    }
  };
  const chat = (model: string, stream: boolean) =>
    attempt(`${stream ? 'stream' : 'chat'} ${model}`, async () => {
      const body = { model, messages: [{ role: 'user' as const, content: `Tell me about ${model}.` }], max_tokens: 24, seed: 1 };
      if (!stream) return sdk.chat.completions.create(body);
      for await (const chunk of await sdk.chat.completions.create({ ...body, stream: true })) void chunk;
    });
  const firing = async (from: number, to: number) =>
    [...new Set((await prom.queryRange('ALERTS{alertstate="firing"}', from, to, 1)).map((s) => s.metric.alertname))].sort();

  before(async () => {
    p = await startPlatform();
    sdk = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: p.demoKey, maxRetries: 0 });
    prom = await startPrometheus(p);
    say(`alert "for:" rewritten in the test's copy of rules.yml: ${prom.forRewrites.map((r) => `${r.alert} ${r.from}→${r.to}`).join(', ')}`);
    // Prometheus itself, the edge, auth, the batch service, every scheduler replica and worker.
    const targets = 4 + p.schedulerUrls.length + p.workerUrls.length;
    await until(async () => ((await prom.query('sum(up)'))[0]?.values[0][1] === targets ? true : undefined), 20_000, `all ${targets} targets up`);
    t.scraping = now();
    await sleep(2_000); // rules evaluated on partial first scrapes (no worker yet, one scheduler) settle
    t.start = now();
  });

  after(async () => {
    hotRunning = false;
    await hotLoop;
    await prom?.stop();
    await p?.stop();
  });

  test('normal traffic — loads, evictions under GPU memory pressure, 4xx and 429 — fires no alert', async () => {
    hotRunning = true;
    hotLoop = (async () => {
      while (hotRunning) await Promise.all([chat(HOT, true), chat(HOT, false)]);
    })();
    const limited = await admin(p).createKey({ requestsPerMinute: 1 });
    const limitedSdk = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: limited.key, maxRetries: 0 });
    const stranger = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: 'sk-not-a-key-of-this-platform-000000', maxRetries: 0 });
    const message = [{ role: 'user' as const, content: 'hi' }];
    await Promise.all([
      (async () => {
        for (const model of BIG) await chat(model, false);
      })(),
      (async () => {
        for (let i = 0; i < 3; i++) await attempt(`embed ${EMBED}`, () => sdk.embeddings.create({ model: EMBED, input: `text ${i}` }));
      })(),
      (async () => {
        for (let i = 0; i < 3; i++) {
          await attempt('401', () => stranger.chat.completions.create({ model: HOT, messages: message }));
          await attempt('404', () => sdk.chat.completions.create({ model: 'no-such-model:1b', messages: message }));
          await attempt('400', () => sdk.chat.completions.create({ model: HOT, messages: [] }));
          await attempt('429', () => limitedSdk.chat.completions.create({ model: HOT, messages: message, max_tokens: 4 }));
          await attempt('models', () => sdk.models.list());
        }
      })(),
    ]);
    const seen = async (expr: string) => ((await prom.query(expr))[0]?.values[0][1] ?? 0) > 0 || undefined;
    await until(() => seen('sum(increase(switchyard_scheduler_evictions_total[5m]))'), 20_000, 'Prometheus to see an eviction');
    await until(() => seen('sum(increase(switchyard_worker_model_load_seconds_count[5m]))'), 10_000, 'Prometheus to see a load');
    await sleep(3_000);
    t.healthyEnd = now();
    say(`normal phase: ${Math.round(t.healthyEnd - t.start)} s; answers: ${[...statuses].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    statuses.clear();
    assert.deepEqual(await firing(t.start, t.healthyEnd), [], 'no alert fires on a healthy platform');
  });

  test('a worker killed under traffic (the launcher restarts it) fires WorkerDown and WorkerDisconnected, nothing unrelated', async () => {
    const holder = await until(async () => {
      const held = await prom.query(`max by (instance) (switchyard_worker_model_resident{model="${HOT}"}) == 1`);
      return held[0]?.metric.instance;
    }, 10_000, `a worker holding ${HOT}`);
    const index = p.workerUrls.findIndex((u) => new URL(u).host === holder);
    killedInstance = holder;
    const pid = p.pidOf(`worker-${index}`);
    assert.ok(pid, `worker-${index} has a pid`);
    t.killedAt = now();
    process.kill(pid, 'SIGKILL');
    let fired: string[] = [];
    await until(async () => {
      fired = await firing(t.killedAt, now());
      return LOSS_ALERTS.every((a) => fired.includes(a)) || undefined;
    }, 30_000, `${LOSS_ALERTS.join(' and ')} to fire`).catch((err: Error) => {
      throw new Error(`${err.message} (fired: ${fired.join(', ') || 'none'})`);
    });
    say(`worker loss: ${LOSS_ALERTS.join(', ')} firing ${Math.round(now() - t.killedAt)} s after the kill`);
    await until(async () => (p.output().includes(`worker-${index} is back`) ? true : undefined), 60_000, 'the launcher to restart the worker');
    await until(async () => ((await prom.query(`up{instance="${holder}"}`))[0]?.values[0][1] === 1 ? true : undefined), 10_000, 'the restarted worker scraped');
    const served = () => [...statuses].filter(([k]) => k.endsWith(' 200')).reduce((n, [, v]) => n + v, 0);
    const before = served();
    await until(async () => (served() >= before + 20 ? true : undefined), 30_000, `${HOT} served again`);
    say(`worker loss: ${HOT} served again ${Math.round(now() - t.killedAt)} s after the kill`);
    await sleep(3_000); // traffic after the recovery
    hotRunning = false;
    await hotLoop;
    t.end = now();
    const all = await firing(t.killedAt, t.end);
    say(`worker loss: ${Math.round(t.end - t.killedAt)} s; alerts that fired: ${all.join(', ')}; answers: ${[...statuses].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    for (const a of LOSS_ALERTS) assert.ok(all.includes(a), `${a} fired`);
    assert.deepEqual(all.filter((a) => !LOSS_ALERTS.includes(a) && !LOSS_MAY_ALSO.includes(a)), [], 'no alert unrelated to a lost worker fired');
  });

  test('every panel query of every dashboard returns data, with "All" and with real variable values, and shows what happened', async () => {
    assert.ok(t.end > 0, 'the phases above ran');
    const real: Record<string, Record<string, string>> = {
      'switchyard-overview': { model: HOT },
      'switchyard-placement': { pool: 'shared', model: BIG[0] },
      'switchyard-workers': { instance: killedInstance },
      'switchyard-usage': { model: HOT },
    };
    const empty: string[] = [];
    const unseen: string[] = [];
    for (const d of readDashboards()) {
      for (const v of d.variables) {
        const offered = await prom.labelValues(v.match, v.label);
        assert.ok(offered.includes(real[d.uid][v.name]), `${d.uid} $${v.name} offers ${real[d.uid][v.name]} (it offers ${offered.join(', ')})`);
      }
      /** A panel query as Grafana runs it over [from, to]. */
      const run = (q: (typeof d.queries)[number], values: Record<string, string>, from: number, to: number) => {
        const expr = interpolate(q.expr, d, { values, rateIntervalS: 4, intervalS: 1, rangeS: to - from });
        return { expr, answer: q.instant ? prom.query(expr, to) : prom.queryRange(expr, from, to, 1) };
      };
      for (const values of [{}, real[d.uid]]) {
        for (const q of d.queries) {
          const { expr, answer } = run(q, values, t.scraping, t.end);
          const series = await answer;
          if (!hasData(series)) empty.push(`${d.uid} "${q.panel}" ${q.refId} (${Object.keys(values).length ? JSON.stringify(values) : 'All'}): ${summarise(series)} — ${expr}`);
        }
      }
      // What a Grafana user sees in each phase ("All"), and the events each panel must show.
      for (const q of d.queries) {
        const normal = await run(q, {}, t.scraping, t.healthyEnd).answer;
        const loss = await run(q, {}, t.killedAt, t.end).answer;
        say(`[${d.title}] ${q.panel} ${q.refId} — normal: ${summarise(normal)} | worker loss: ${summarise(loss)}`);
        const expected = SHOWS[`${d.uid}/${q.panel}/${q.refId}`];
        if (expected && !expected.check(expected.phase === 'normal' ? normal : loss)) unseen.push(`${d.uid} "${q.panel}" ${q.refId} should show ${expected.what}`);
      }
    }
    assert.deepEqual(empty, [], 'panels without data');
    assert.deepEqual(unseen, [], 'panels that do not show what happened');
  });
});

type Check = { phase: 'normal' | 'loss'; what: string; check: (series: Series[]) => boolean };
const values = (series: Series[]) => series.flatMap((s) => s.values.map(([, v]) => v)).filter(Number.isFinite);
const rises = (what: string, phase: Check['phase'] = 'normal'): Check => ({ phase, what, check: (s) => values(s).some((v) => v > 0) });
/** Panels that must show the events the test caused (a series born at its first event would hide them). */
const SHOWS: Record<string, Check> = {
  'switchyard-placement/Loads per minute by model/A': rises('the loads'),
  'switchyard-placement/Loads per minute by reason/A': rises('the loads'),
  'switchyard-placement/Evictions per minute by model/A': rises('the evictions'),
  'switchyard-placement/Model load time p50 / p95 by model/A': rises('load times'),
  'switchyard-placement/Share of GPU time spent loading/A': rises('time spent loading'),
  'switchyard-placement/Mean load time by model/A': rises('load times'),
  'switchyard-placement/Mean load time by model/B': rises('the loads'),
  'switchyard-placement/Workers by state/A': { phase: 'loss', what: 'a disconnected worker', check: (s) => s.some((x) => x.metric.state === 'disconnected' && x.values.some(([, v]) => v > 0)) },
  'switchyard-overview/Errors/s by status/A': rises('the 400s, 401s, 404s and 429s'),
  'switchyard-overview/Refusals: 429 and 503/A': rises('the 429s'),
  'switchyard-overview/Refusals: 429 and 503/B': rises('the rejections by reason'),
  'switchyard-overview/429 + 503 /s/A': rises('the 429s'),
  'switchyard-workers/Workers up/A': { phase: 'loss', what: 'a worker down', check: (s) => values(s).some((v) => v < 2) },
  'switchyard-workers/GPU memory used/A': rises('a share of a known total'),
  'switchyard-workers/Jobs/s by outcome/A': rises('jobs'),
  'switchyard-usage/Tokens in range/A': rises('tokens'),
};
