/**
 * A Prometheus of a test's own (the Debian package's `prometheus` binary) scraping a started
 * platform with the project's own scrape configuration (deploy/prometheus/prometheus.yml) and alert
 * rules (deploy/prometheus/rules.yml), adapted only where a test must: the targets are the
 * platform's local ports, everything is scraped and evaluated every second, and every alert's `for:`
 * is 0 s. So an alert fires at the first evaluation its expression holds: a healthy platform must keep
 * every expression false at every evaluation, and a fault is seen even when it lasts only seconds (the
 * launcher brings a killed worker back in about 2 s, shorter than any `for:` compressed in proportion).
 * How long a condition must last before it pages is a deployment choice this does not measure.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort } from '@switchyard/testing';
import type { Platform } from './platform';

const ROOT = path.resolve(__dirname, '../../..');

/** One series of a query's answer: its labels and its samples (one for an instant query). */
export interface Series {
  metric: Record<string, string>;
  values: Array<[number, number]>;
}

export interface OwnPrometheus {
  url: string;
  /** The `for:` of each alert in the test's copy of the rules, beside the project's. */
  forRewrites: Array<{ alert: string; from: string; to: string }>;
  query(expr: string, time?: number): Promise<Series[]>;
  queryRange(expr: string, start: number, end: number, stepS: number): Promise<Series[]>;
  /** Values of a label among the series `match` selects (what Grafana's `label_values(match, label)` lists). */
  labelValues(match: string, label: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Why Prometheus cannot run here, or undefined when it can. */
export function prometheusMissing(): string | undefined {
  const r = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'prometheus is not installed (Debian: apt-get install prometheus); the dashboards test needs a real one';
  return undefined;
}

const hostPort = (url: string) => new URL(url).host;

/** The project's scrape configuration with the platform's targets and 1 s scrapes. */
function scrapeConfig(p: Platform, self: string, rulesFile: string): string {
  const doc = YAML.parse(readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
    global: Record<string, unknown>;
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
  };
  const targets: Record<string, string[]> = {
    prometheus: [self],
    edge: [hostPort(p.baseUrl)],
    auth: [hostPort(p.authUrl)],
    scheduler: p.schedulerUrls.map(hostPort),
    worker: p.workerUrls.map(hostPort),
    batch: [hostPort(p.batchUrl)],
  };
  doc.global = { ...doc.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  doc.rule_files = [rulesFile];
  for (const job of doc.scrape_configs) {
    const local = targets[job.job_name];
    if (!local) throw new Error(`deploy/prometheus/prometheus.yml has a job "${job.job_name}" this test does not know the local targets of`);
    job.static_configs = [{ targets: local }];
  }
  return YAML.stringify(doc);
}

/** The project's rules, each `for:` made 0 s (see the file's comment). */
function immediateRules(): { text: string; rewrites: OwnPrometheus['forRewrites'] } {
  const doc = YAML.parse(readFileSync(path.join(ROOT, 'deploy/prometheus/rules.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; for?: string }> }> };
  const rewrites: OwnPrometheus['forRewrites'] = [];
  for (const rule of doc.groups.flatMap((g) => g.rules)) {
    if (!rule.alert || rule.for === undefined) continue;
    const to = '0s';
    rewrites.push({ alert: rule.alert, from: rule.for, to });
    rule.for = to;
  }
  return { text: YAML.stringify(doc), rewrites };
}

export async function startPrometheus(p: Platform): Promise<OwnPrometheus> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-prom-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const rules = immediateRules();
  writeFileSync(path.join(dir, 'rules.yml'), rules.text);
  writeFileSync(path.join(dir, 'prometheus.yml'), scrapeConfig(p, `127.0.0.1:${port}`, path.join(dir, 'rules.yml')));
  let log = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited:\n${log}`);
    }
    if ((await fetch(`${url}/-/ready`).catch(() => undefined))?.ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready in 20 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const api = async <T>(route: string, params: Record<string, string>): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${route}`, { method: 'POST', body: new URLSearchParams(params) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${route} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  type Answer = { resultType: string; result: Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }> };
  const series = (a: Answer): Series[] => {
    if (a.resultType === 'scalar') {
      const [t, v] = a.result as unknown as [number, string];
      return [{ metric: {}, values: [[t, Number(v)]] }];
    }
    return a.result.map((r) => ({ metric: r.metric, values: (r.values ?? (r.value ? [r.value] : [])).map(([t, v]) => [t, Number(v)] as [number, number]) }));
  };
  return {
    url,
    forRewrites: rules.rewrites,
    query: async (expr, time) => series(await api<Answer>('query', { query: expr, ...(time ? { time: String(time) } : {}) })),
    queryRange: async (expr, start, end, stepS) => series(await api<Answer>('query_range', { query: expr, start: String(start), end: String(end), step: String(stepS) })),
    labelValues: async (match, label) => {
      const found = await api<Array<Record<string, string>>>('series', { 'match[]': match });
      return [...new Set(found.map((s) => s[label]).filter((v): v is string => v !== undefined))].sort();
    },
    stop,
  };
}
