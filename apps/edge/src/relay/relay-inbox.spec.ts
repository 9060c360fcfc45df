import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RelayMessage } from '@switchyard/contracts';
import { RelayInbox } from './relay-inbox';

const started = (seq: number, workerId = 'w1'): RelayMessage => ({ type: 'started', requestId: 'r', seq, workerId, queueMs: 1 });
const chunk = (seq: number, content = `c${seq}`): RelayMessage => ({ type: 'chunk', requestId: 'r', seq, content });

test('messages come out in order; duplicates (same or older seq) are dropped', async () => {
  const inbox = new RelayInbox('r');
  for (const m of [started(0), chunk(1), chunk(1), chunk(2), chunk(0)]) inbox.push(m);
  const seen = [];
  for (let i = 0; i < 3; i++) seen.push((await inbox.next())?.seq);
  assert.deepEqual(seen, [0, 1, 2]);
});

test('a new started (the job re-run elsewhere) restarts the sequence', async () => {
  const inbox = new RelayInbox('r');
  for (const m of [started(0), chunk(1), started(0, 'w2'), chunk(1, 'again')]) inbox.push(m);
  const types = [];
  for (let i = 0; i < 4; i++) {
    const m = await inbox.next();
    types.push(m?.type === 'chunk' ? m.content : m?.type);
  }
  assert.deepEqual(types, ['started', 'c1', 'started', 'again']);
});

test('a waiter is woken by a message, by close, or by its abort signal', async () => {
  const inbox = new RelayInbox('r');
  const p = inbox.next();
  inbox.push(started(0));
  assert.equal((await p)?.type, 'started');
  const ctl = new AbortController();
  const q = inbox.next(ctl.signal);
  ctl.abort();
  assert.equal(await q, undefined);
  let closed = 0;
  const inbox2 = new RelayInbox('r2', () => closed++);
  const w = inbox2.next();
  inbox2.close();
  inbox2.close();
  assert.equal(await w, undefined);
  assert.equal(closed, 1);
  inbox2.push(chunk(1));
  assert.equal(await inbox2.next(), undefined);
});
