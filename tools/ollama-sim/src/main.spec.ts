import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['tools/scripts/run-ts.mjs', 'tools/ollama-sim/src/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, SIM_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe('npm run sim', () => {
  test('prints one listening line with every URL, serves, and closes cleanly on SIGTERM', async () => {
    const p = run(['--port', '0', '--time-scale', '1000'], { SIM_GPUS: '2' });
    const deadline = Date.now() + 30_000;
    while (!p.out().includes('\n') && Date.now() < deadline && p.child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const line = JSON.parse(p.out().split('\n')[0]) as { event: string; urls: string[] };
    assert.equal(line.event, 'listening');
    assert.equal(line.urls.length, 2);
    for (const u of line.urls) assert.match(u, /^http:\/\/127\.0\.0\.1:\d+$/);
    const version = (await (await fetch(`${line.urls[1]}/api/version`)).json()) as { version: string };
    assert.equal(typeof version.version, 'string');
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
    assert.equal(p.out().trim().split('\n').length, 1, 'stdout carries only the listening line');
  });

  test('bad settings fail at start, listing every problem', async () => {
    const p = run(['--gpus', '0', '--time-scale', '-3'], { SIM_KEEP_ALIVE: '5 minutes' });
    assert.equal(await p.exited, 1);
    assert.match(p.err(), /gpus/);
    assert.match(p.err(), /timeScale/);
    assert.match(p.err(), /keepAlive/);
  });
});
