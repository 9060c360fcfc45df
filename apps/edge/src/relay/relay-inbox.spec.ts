import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RelayMessage } from '@switchyard/contracts';
import { RelayInbox } from './relay-inbox';

const chunk = (seq: number, content = `c${seq}`): RelayMessage => ({ type: 'chunk', requestId: 'r', runId: 'a', seq, content });

test('messages come out in arrival order, buffered or awaited', async () => {
  const inbox = new RelayInbox('r');
  inbox.push(chunk(0));
  inbox.push(chunk(1));
  const first = await inbox.next();
  const second = await inbox.next();
  assert.deepEqual([first, second].map((m) => (m?.type === 'chunk' ? m.content : m?.type)), ['c0', 'c1']);
  const pending = inbox.next();
  inbox.push(chunk(2));
  assert.equal(((await pending) as { content: string }).content, 'c2');
});

test('a waiter is woken by a message, by close, or by its abort signal', async () => {
  const inbox = new RelayInbox('r');
  const p = inbox.next();
  inbox.push(chunk(0));
  assert.equal((await p)?.type, 'chunk');
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
