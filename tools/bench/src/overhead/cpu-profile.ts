import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './systems';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** `function (file:line)`, or an area (a package, a folder of an app, Node's internals). */
  name: string;
  ms: number;
  /** Share of the busy time (all samples but `(idle)` and the profiler's own). */
  share: number;
}

const PRELOAD = 'cpu-prof-preload.mjs';

function file(f: ProfileNode['callFrame']): string {
  return f.url.replace(/^file:\/\//, '').replace(`${REPO_ROOT}/`, '');
}

function frameName(f: ProfileNode['callFrame']): string {
  const where = file(f) ? ` (${file(f).replace(/^.*node_modules\//, '')}:${f.lineNumber + 1})` : '';
  return `${f.functionName || '(anonymous)'}${where}`;
}

/** Where a function lives: its npm package, its app's folder (`apps/edge/src/relay`), Node's own JS, or native. */
function area(f: ProfileNode['callFrame']): string {
  const where = file(f);
  if (!where) return f.functionName.startsWith('(') ? f.functionName : '(native: sockets, timers, …)';
  if (where.startsWith('node:')) return 'node: internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return pkg[1];
  const own = /^((?:apps|libs|tools)\/[^/]+\/src(?:\/[^/]+)?)\//.exec(where);
  return own ? own[1] : where;
}

/**
 * The functions, and the areas (package or app folder), with the most self time in a V8
 * `.cpuprofile`, leaving out idle time and the profiler's own work.
 */
export function selfTime(file: string, n: number): { busyMs: number; functions: SelfTime[]; areas: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // The profiler's own frames and everything under them.
  const excluded = new Set<number>();
  const exclude = (id: number) => {
    excluded.add(id);
    for (const c of byId.get(id)?.children ?? []) exclude(c);
  };
  for (const node of profile.nodes) if (node.callFrame.url.endsWith(PRELOAD)) exclude(node.id);
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node || excluded.has(id) || node.callFrame.functionName === '(idle)') return;
    const us = profile.timeDeltas[i] ?? 0;
    busyUs += us;
    const fn = frameName(node.callFrame);
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    const a = area(node.callFrame);
    areas.set(a, (areas.get(a) ?? 0) + us);
  });
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs > 0 ? us / busyUs : NaN }));
  return { busyMs: busyUs / 1000, functions: top(fns), areas: top(areas) };
}

/** The processes cpu-prof-preload.mjs is loaded into: SIGWINCH starts their profile, the next one writes it. */
export const PROFILED = ['edge', 'worker-0', 'auth'];

/** NODE_OPTIONS and the variable that make the stack's Node processes profile on SIGWINCH into `dir`. */
export function profilingEnv(dir: string): NodeJS.ProcessEnv {
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(path.join(__dirname, PRELOAD)).href}`.trim(),
    SWITCHYARD_CPU_PROF_DIR: dir,
  };
}

/** The profile cpu-prof-preload.mjs wrote for `pid`, once it is there (it is written asynchronously). */
export async function profileOf(dir: string, pid: number, waitMs = 10_000): Promise<string | undefined> {
  const name = `CPU.${pid}.cpuprofile`;
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (readdirSync(dir).includes(name)) return path.join(dir, name);
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}
