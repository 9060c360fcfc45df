import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger } from './logger';
import { exitOnFatalError, type FatalTarget } from './bootstrap';

/** A stand-in for the process: its listeners, and the exit codes asked for (with when). */
class FakeProcess extends EventEmitter implements FatalTarget {
  readonly exits: Array<{ code: number; atMs: number }> = [];
  private readonly t0 = Date.now();
  exit(code: number): void {
    this.exits.push({ code, atMs: Date.now() - this.t0 });
  }
}

function captured(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'info', destination }), lines };
}

const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
};

describe('exitOnFatalError', () => {
  test('an error nothing caught is logged as one fatal line, the last words run, then the process exits 1', async () => {
    const proc = new FakeProcess();
    const { logger, lines } = captured();
    const said: string[] = [];
    exitOnFatalError(logger, async () => void said.push('lease released'), 1000, proc);
    proc.emit('uncaughtException', new Error('boom in a callback'));
    await until(() => proc.exits.length > 0);
    assert.deepEqual(said, ['lease released']);
    assert.equal(proc.exits[0].code, 1);
    const fatal = lines.filter((l) => l.level === 60);
    assert.equal(fatal.length, 1);
    assert.equal(fatal[0].kind, 'uncaughtException');
    assert.match(JSON.stringify(fatal[0].err), /boom in a callback/);
  });

  test('a rejected promise nobody awaited ends it the same way', async () => {
    const proc = new FakeProcess();
    const { logger, lines } = captured();
    exitOnFatalError(logger, undefined, 1000, proc);
    proc.emit('unhandledRejection', new Error('nobody awaited me'));
    await until(() => proc.exits.length > 0);
    assert.equal(proc.exits[0].code, 1);
    assert.equal(lines.find((l) => l.level === 60)?.kind, 'unhandledRejection');
  });

  test('last words that hang are cut off at the grace; a second error meanwhile exits at once', async () => {
    const proc = new FakeProcess();
    const { logger } = captured();
    exitOnFatalError(logger, () => new Promise(() => undefined), 150, proc);
    proc.emit('uncaughtException', new Error('first'));
    assert.equal(proc.exits.length, 0, 'the last words are given their grace');
    proc.emit('unhandledRejection', new Error('second'));
    assert.equal(proc.exits.length, 1, 'a second fatal error does not wait');
    await until(() => proc.exits.length > 1);
    assert.ok(proc.exits[1].atMs >= 140 && proc.exits[1].atMs < 1000, `cut off at the grace (${proc.exits[1].atMs} ms)`);
  });
});
