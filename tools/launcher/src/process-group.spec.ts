import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ExitStatus, ProcessGroup, ServiceSpec } from './process-group';
import { RestartPolicyOptions } from './restart-policy';

/** Tiny fake services: plain `node -e` children. */
const CRASHES = `console.error('boom', process.env.WORKER_ID, process.argv.slice(1).join(' ')); process.exit(3)`;
const RUNS = 'setTimeout(() => {}, 1e9)';
const IGNORES_SIGTERM = "process.on('SIGTERM', () => {}); console.log('up'); setTimeout(() => {}, 1e9)";

const fast: Partial<RestartPolicyOptions> = { backoffBaseMs: 20, backoffMaxMs: 80, healthyAfterMs: 60_000, maxCrashes: 4, crashWindowMs: 60_000 };

let dir: string;
let group: ProcessGroup | undefined;
let lines: string[];
let startupExits: Array<{ name: string; status: ExitStatus }>;

function makeGroup(policy: Partial<RestartPolicyOptions> = fast): ProcessGroup {
  group = new ProcessGroup({
    logDir: dir,
    say: (m) => lines.push(m),
    onStartupExit: (s, status) => startupExits.push({ name: s.name, status }),
    restartPolicy: policy,
    readyPollMs: 10,
  });
  return group;
}

const fake = (name: string, script: string, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  name,
  command: process.execPath,
  args: ['-e', script, '--', '--flag'],
  env: { ...process.env, WORKER_ID: 'gpu-7' },
  ...extra,
});

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; console:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pidsFile = () => JSON.parse(readFileSync(path.join(dir, 'pids.json'), 'utf8')) as Record<string, number>;
const said = (re: RegExp) => lines.filter((l) => re.test(l));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'launcher-pg-'));
  lines = [];
  startupExits = [];
});

afterEach(async () => {
  await group?.stopAll(500);
  group = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('ProcessGroup supervision', () => {
  test('before supervise(), an exit is a startup failure and nothing is restarted', async () => {
    const g = makeGroup();
    const s = g.start(fake('auth', CRASHES));
    assert.deepEqual(await s.current.exited, { code: 3, signal: null });
    await until('the startup failure', () => startupExits.length === 1);
    assert.deepEqual(startupExits, [{ name: 'auth', status: { code: 3, signal: null } }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(lines, []);
    assert.deepEqual(pidsFile(), {});
  });

  test('a crash loop is restarted with doubling delays, the same command line and environment, then left down with its log', async () => {
    const g = makeGroup();
    g.supervise();
    const s = g.start(fake('worker-0', CRASHES));
    await until('giving up', () => s.state === 'down');
    assert.deepEqual(said(/restarting/), [
      '✗ worker-0 exited (code 3); restarting in 20 ms (restart 1)',
      '✗ worker-0 exited (code 3); restarting in 40 ms (restart 2)',
      '✗ worker-0 exited (code 3); restarting in 80 ms (restart 3)',
    ]);
    const [gaveUp] = said(/stays down/);
    assert.match(gaveUp, /^✗ worker-0 exited \(code 3\): 4 crashes within 1 min, so it stays down; the other services keep running\. Last lines of .*worker-0\.log:\n/);
    assert.match(gaveUp, /boom gpu-7 --flag$/);
    const runs = readFileSync(s.logFile, 'utf8').split('\n').filter((l) => l.startsWith('boom'));
    assert.deepEqual(runs, Array(4).fill('boom gpu-7 --flag'));
    assert.deepEqual(pidsFile(), {});
    assert.deepEqual(startupExits, []);
  });

  test('a killed service comes back with a new pid in pids.json while the others keep running', async () => {
    const g = makeGroup();
    const other = g.start(fake('edge', RUNS));
    const worker = g.start(fake('worker-0', RUNS, { ready: () => Promise.resolve(true) }));
    g.supervise();
    const oldPid = worker.current.child.pid ?? 0;
    assert.deepEqual(pidsFile(), { edge: other.current.child.pid, 'worker-0': oldPid });
    process.kill(oldPid, 'SIGKILL');
    await until('the restart', () => said(/is back/).length === 1);
    const newPid = worker.current.child.pid ?? 0;
    assert.notEqual(newPid, oldPid);
    assert.deepEqual(lines, ['✗ worker-0 exited (signal SIGKILL); restarting in 20 ms (restart 1)', `✓ worker-0 is back (pid ${newPid})`]);
    assert.deepEqual(pidsFile(), { edge: other.current.child.pid, 'worker-0': newPid });
    assert.ok(alive(other.current.child.pid ?? 0));
  });

  test('the backoff starts over once the service has stayed up for the healthy period', async () => {
    const g = makeGroup({ ...fast, healthyAfterMs: 400 });
    g.supervise();
    const s = g.start(fake('scheduler-1', RUNS));
    const killAndWaitBack = async (n: number) => {
      process.kill(s.current.child.pid ?? 0, 'SIGKILL');
      await until(`restart ${n}`, () => said(/is back/).length === n);
    };
    await killAndWaitBack(1);
    await killAndWaitBack(2); // at once: the delay doubles
    await new Promise((r) => setTimeout(r, 500)); // healthy for longer than 400 ms
    await killAndWaitBack(3);
    assert.deepEqual(said(/restarting/), [
      '✗ scheduler-1 exited (signal SIGKILL); restarting in 20 ms (restart 1)',
      '✗ scheduler-1 exited (signal SIGKILL); restarting in 40 ms (restart 2)',
      '✗ scheduler-1 exited (signal SIGKILL); restarting in 20 ms (restart 3)',
    ]);
  });

  test('a restart waits for the service to answer before saying it is back', async () => {
    let answering = false;
    const g = makeGroup();
    g.supervise();
    const s = g.start(fake('auth', RUNS, { ready: () => Promise.resolve(answering) }));
    process.kill(s.current.child.pid ?? 0, 'SIGKILL');
    await until('the restart', () => said(/restarting/).length === 1 && s.state === 'running');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(said(/is back/), []);
    answering = true;
    await until('back', () => said(/is back/).length === 1);
  });

  test('stopAll stops in reverse start order, SIGKILLs after the grace, and restarts nothing', async () => {
    const g = makeGroup();
    const first = g.start(fake('redis', RUNS));
    const stubborn = g.start(fake('worker-0', IGNORES_SIGTERM));
    const last = g.start(fake('edge', RUNS));
    g.supervise();
    await until('the stubborn child to install its handler', () => existsSync(stubborn.logFile) && readFileSync(stubborn.logFile, 'utf8').includes('up'));
    const order: string[] = [];
    for (const s of [first, stubborn, last]) void s.current.exited.then(() => order.push(s.name));
    const started = Date.now();
    await g.stopAll(300);
    assert.ok(Date.now() - started >= 300, 'waited the grace for the child ignoring SIGTERM');
    assert.deepEqual(order, ['edge', 'worker-0', 'redis']);
    assert.deepEqual(await stubborn.current.exited, { code: null, signal: 'SIGKILL' });
    assert.deepEqual(await first.current.exited, { code: null, signal: 'SIGTERM' });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(lines, []);
    assert.deepEqual(pidsFile(), {});
  });

  test('a restart already scheduled when shutdown begins does not happen', async () => {
    const g = makeGroup({ ...fast, backoffBaseMs: 200, backoffMaxMs: 200 });
    g.supervise();
    const s = g.start(fake('worker-1', RUNS));
    const pid = s.current.child.pid ?? 0;
    process.kill(pid, 'SIGKILL');
    await until('the restart to be scheduled', () => said(/restarting in 0.2 s/).length === 1);
    await g.stopAll(500);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.current.child.pid, pid, 'no new process');
    assert.deepEqual(said(/is back/), []);
    assert.deepEqual(pidsFile(), {});
  });

  test('a command that cannot be spawned counts as a crash', async () => {
    const g = makeGroup({ ...fast, maxCrashes: 2 });
    g.supervise();
    const s = g.start({ name: 'redis', command: path.join(dir, 'no-such-redis-server'), args: [], env: process.env });
    await until('giving up', () => s.state === 'down');
    assert.equal(said(/restarting/).length, 1);
    assert.match(readFileSync(s.logFile, 'utf8'), /launcher: could not start .*no-such-redis-server: spawn .* ENOENT/);
  });
});
