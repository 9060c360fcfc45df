import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatDuration, RestartPolicy, RestartPolicyOptions } from './restart-policy';

/** How a child ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export const describeExit = (s: ExitStatus): string => (s.signal ? `signal ${s.signal}` : `code ${s.code}`);

/** One service: the same command line and environment every time it is (re)started. */
export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** True once the service answers; polled after a restart to report it back. */
  ready?: () => Promise<boolean>;
  onStdoutLine?: (line: string) => void;
}

/** One run of a service's process. */
export interface ManagedProcess {
  child: ChildProcess;
  startedAt: number;
  exited: Promise<ExitStatus>;
}

export class Service {
  /** The latest process; after a crash, the dead one until the restart. Set by ProcessGroup.start. */
  current!: ManagedProcess;
  /** `down`: given up after a crash loop. */
  state: 'running' | 'restarting' | 'down' = 'running';

  constructor(
    readonly spec: ServiceSpec,
    readonly logFile: string,
    readonly policy: RestartPolicy,
  ) {}

  get name(): string {
    return this.spec.name;
  }
}

export interface ProcessGroupOptions {
  logDir: string;
  /** One console line. */
  say: (msg: string) => void;
  /** A child exited before `supervise()`: the start sequence failed. */
  onStartupExit: (service: Service, status: ExitStatus) => void;
  restartPolicy?: Partial<RestartPolicyOptions>;
  readyPollMs?: number;
}

const isAlive = (p: ManagedProcess) => p.child.exitCode === null && p.child.signalCode === null && p.child.pid !== undefined;

/**
 * The platform's child processes, each logging to its own file in the log folder. During the start
 * sequence an exit is a startup failure (the caller stops everything); once `supervise()` is called
 * a crashed service is restarted with backoff by its RestartPolicy, or left down after a crash loop,
 * and the others keep running. `stopAll` stops them in reverse start order with SIGTERM (SIGKILL
 * after a grace period) so each service drains. `<logDir>/pids.json` always maps each running
 * service to its pid, for operators and fault tests.
 */
export class ProcessGroup {
  private readonly services: Service[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private supervising = false;
  private stopping = false;
  private readonly pidsFile: string;

  constructor(private readonly opts: ProcessGroupOptions) {
    mkdirSync(opts.logDir, { recursive: true });
    this.pidsFile = path.join(opts.logDir, 'pids.json');
    this.writePids();
  }

  start(spec: ServiceSpec): Service {
    const service = new Service(spec, path.join(this.opts.logDir, `${spec.name}.log`), new RestartPolicy(this.opts.restartPolicy));
    service.current = this.spawn(service);
    this.services.push(service);
    this.writePids();
    return service;
  }

  /** From now on a crash restarts the service instead of failing the start. */
  supervise(): void {
    this.supervising = true;
  }

  /** Every running service's pid, by name. */
  pids(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.services) if (isAlive(s.current) && s.current.child.pid) out[s.name] = s.current.child.pid;
    return out;
  }

  async stopAll(graceMs = 15000): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of [...this.services].reverse()) {
      const p = s.current;
      if (!isAlive(p)) continue;
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }
  }

  private spawn(service: Service): ManagedProcess {
    const { spec } = service;
    const log = createWriteStream(service.logFile, { flags: 'a' });
    const child = spawn(spec.command, spec.args, { env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    child.stdout?.on('data', (d: Buffer) => {
      log.write(d);
      if (!spec.onStdoutLine) return;
      buffered += d.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        spec.onStdoutLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    child.stderr?.on('data', (d: Buffer) => log.write(d));
    let resolveExit: (status: ExitStatus) => void = () => undefined;
    const proc: ManagedProcess = { child, startedAt: Date.now(), exited: new Promise<ExitStatus>((r) => (resolveExit = r)) };
    let settled = false;
    // settled on 'close' (the output is all in the log file by then), with a fallback should a
    // grandchild hold the pipes open
    const settle = (status: ExitStatus) => {
      if (settled) return;
      settled = true;
      log.end(() => {
        resolveExit(status);
        this.writePids();
        if (!this.stopping) this.onExit(service, proc, status);
      });
    };
    child.on('close', (code, signal) => settle({ code, signal }));
    child.on('exit', (code, signal) => setTimeout(() => settle({ code, signal }), 1000).unref());
    child.on('error', (err) => {
      // spawn failed (no such command): there is no 'exit' to wait for
      if (child.pid !== undefined) return;
      log.write(`launcher: could not start ${spec.command}: ${err.message}\n`);
      settle({ code: null, signal: null });
    });
    return proc;
  }

  private onExit(service: Service, proc: ManagedProcess, status: ExitStatus): void {
    if (!this.supervising) {
      this.opts.onStartupExit(service, status);
      return;
    }
    const now = Date.now();
    const decision = service.policy.onCrash(now, now - proc.startedAt);
    if (!decision.restart) {
      service.state = 'down';
      const { crashWindowMs } = service.policy.window;
      this.opts.say(
        `✗ ${service.name} exited (${describeExit(status)}): ${decision.crashes} crashes within ${formatDuration(crashWindowMs)}, so it stays down; ` +
          `the other services keep running. Last lines of ${service.logFile}:\n${ProcessGroup.tail(service.logFile)}`,
      );
      return;
    }
    service.state = 'restarting';
    this.opts.say(`✗ ${service.name} exited (${describeExit(status)}); restarting in ${formatDuration(decision.delayMs)} (restart ${decision.restartNumber})`);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopping) return;
      writeFileSync(service.logFile, `\n--- launcher: restart ${decision.restartNumber} at ${new Date().toISOString()} ---\n`, { flag: 'a' });
      service.current = this.spawn(service);
      service.state = 'running';
      this.writePids();
      void this.reportBack(service, service.current);
    }, decision.delayMs);
    this.timers.add(timer);
  }

  /** Polls the restarted service's readiness and says when it is back. */
  private async reportBack(service: Service, proc: ManagedProcess): Promise<void> {
    const pollMs = this.opts.readyPollMs ?? 250;
    const ready = service.spec.ready ?? (() => Promise.resolve(true));
    const warnAt = Date.now() + 90_000;
    let warned = false;
    while (!this.stopping && service.current === proc && isAlive(proc)) {
      if (await ready()) {
        if (!this.stopping && service.current === proc && isAlive(proc)) this.opts.say(`✓ ${service.name} is back (pid ${proc.child.pid})`);
        return;
      }
      if (!warned && Date.now() > warnAt) {
        warned = true;
        this.opts.say(`⚠ ${service.name} restarted 90 s ago and is not ready yet; see ${service.logFile}`);
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  private writePids(): void {
    const tmp = `${this.pidsFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.pids(), null, 2)}\n`);
    renameSync(tmp, this.pidsFile);
  }

  static tail(logFile: string, lines = 20): string {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
