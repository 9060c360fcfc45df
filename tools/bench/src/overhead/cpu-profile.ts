import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './systems';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** `function (file:line)`, the file relative to the repository. */
  frame: string;
  ms: number;
  /** Share of the busy time (all samples but `(idle)`). */
  share: number;
}

function frameName(f: ProfileNode['callFrame']): string {
  const file = f.url.replace(/^file:\/\//, '').replace(`${REPO_ROOT}/`, '');
  const where = file ? ` (${file.replace(/^node_modules\//, '')}:${f.lineNumber + 1})` : '';
  return `${f.functionName || '(anonymous)'}${where}`;
}

/** The functions with the most self time in a V8 `.cpuprofile` (node --cpu-prof). */
export function topSelfTime(file: string, n: number): { busyMs: number; top: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const us = profile.timeDeltas[i] ?? 0;
    const name = frameName(node.callFrame);
    if (name === '(idle)') return;
    busyUs += us;
    self.set(name, (self.get(name) ?? 0) + us);
  });
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, us]) => ({ frame, ms: us / 1000, share: busyUs > 0 ? us / busyUs : NaN }));
  return { busyMs: busyUs / 1000, top };
}

/** The processes cpu-prof-preload.mjs is loaded into: SIGWINCH starts their profile, the next one writes it. */
export const PROFILED = ['edge', 'worker-0', 'auth'];

/** NODE_OPTIONS and the variable that make the stack's Node processes profile on SIGWINCH into `dir`. */
export function profilingEnv(dir: string): NodeJS.ProcessEnv {
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(path.join(__dirname, 'cpu-prof-preload.mjs')).href}`.trim(),
    SWITCHYARD_CPU_PROF_DIR: dir,
  };
}

/** The profile cpu-prof-preload.mjs wrote for `pid`, once it is there (it is written asynchronously). */
export async function profileOf(dir: string, pid: number, waitMs = 10_000): Promise<string | undefined> {
  const file = path.join(dir, `CPU.${pid}.cpuprofile`);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (readdirSync(dir).includes(path.basename(file))) return file;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}
