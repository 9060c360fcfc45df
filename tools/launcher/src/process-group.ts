import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, WriteStream } from 'node:fs';
import path from 'node:path';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

/**
 * The platform's child processes: started in order, each logging to its own file, stopped in
 * reverse order with SIGTERM (SIGKILL after a grace period) so each service drains.
 */
export class ProcessGroup {
  private readonly procs: ManagedProcess[] = [];
  private stopping = false;

  constructor(private readonly logDir: string, private readonly onUnexpectedExit: (p: ManagedProcess, code: number | null) => void) {
    mkdirSync(logDir, { recursive: true });
  }

  start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, onStdoutLine?: (line: string) => void): ManagedProcess {
    const logFile = path.join(this.logDir, `${name}.log`);
    const log: WriteStream = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    child.stdout?.on('data', (d: Buffer) => {
      log.write(d);
      if (!onStdoutLine) return;
      buffered += d.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        onStdoutLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    child.stderr?.on('data', (d: Buffer) => log.write(d));
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => {
        log.end();
        resolve(code);
        if (!this.stopping) this.onUnexpectedExit(proc, code);
      });
    });
    const proc: ManagedProcess = { name, child, logFile, exited };
    this.procs.push(proc);
    return proc;
  }

  async stopAll(graceMs = 15000): Promise<void> {
    this.stopping = true;
    for (const p of [...this.procs].reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
      await p.exited;
      clearTimeout(timer);
    }
  }

  static tail(logFile: string, lines = 20): string {
    try {
      return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
