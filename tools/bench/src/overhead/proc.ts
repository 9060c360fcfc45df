import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100;

/** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat; NaN when unreadable. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return NaN;
  }
}

/** Resident memory of the process now, MB (VmRSS); NaN when unreadable. */
export function rssMb(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

/** CPU seconds of each named process (or group of processes) since `start()`, read by `stop()`. */
export class CpuMeter {
  private before: Record<string, number> = {};
  private readonly groups: Record<string, number[]>;

  constructor(pids: Record<string, number>, groups: Record<string, number[]> = {}) {
    this.groups = { ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, [pid]])), ...Object.fromEntries(Object.entries(groups).filter(([, g]) => g.length > 0)) };
  }

  private read(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.groups).map(([name, pids]) => [name, pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0)]));
  }

  start(): void {
    this.before = this.read();
  }

  stop(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.read()).map(([name, s]) => [name, s - (this.before[name] ?? NaN)]));
  }
}
