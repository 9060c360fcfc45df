import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InferenceJob, RelayMessage } from '@switchyard/contracts';
import { RelayInbox } from '../relay/relay-inbox';
import type { JobPresence } from '@switchyard/redis';
import { JobRun, type RunEvent } from './job-run';

const job = (stream: boolean): InferenceJob => ({
  requestId: 'r1',
  pool: 'shared',
  model: 'm',
  numCtx: 8192,
  priority: 'interactive',
  edgeId: 'e',
  keyId: 'k',
  userId: 'u',
  createdAt: 0,
  estimatedPromptTokens: 1,
  stream,
  work: { kind: 'chat', messages: [{ role: 'user', content: 'hi' }], options: {} },
});

const usage = { promptTokens: 1, completionTokens: 2, queueMs: 0, loadMs: 0, promptEvalMs: 0, evalMs: 0, totalMs: 0 };
const started = (runId: string, seq = 0, workerId = `w-${runId}`): RelayMessage => ({ type: 'started', requestId: 'r1', runId, seq, workerId, queueMs: 0 });
const chunk = (runId: string, seq: number, content: string): RelayMessage => ({ type: 'chunk', requestId: 'r1', runId, seq, content });
const final = (runId: string, seq: number): RelayMessage => ({ type: 'final', requestId: 'r1', runId, seq, workerId: `w-${runId}`, finishReason: 'stop', usage });
const lost = (workerId: string, requeued = true): RelayMessage => ({ type: 'lost', requestId: 'r1', workerId, requeued, reason: 'worker lost' });

function setup(stream: boolean, presence: JobPresence = 'running') {
  const cancels: string[] = [];
  const inbox = new RelayInbox('r1');
  const run = new JobRun(job(stream), inbox, { observe: () => undefined, cancel: async (_j, reason) => cancels.push(reason), presence: async () => presence, ended: () => undefined }, 60_000);
  return { inbox, run, cancels };
}

/** What the client would see: the text, and how the answer ended. */
async function drain(run: JobRun): Promise<{ text: string; end: string }> {
  let text = '';
  for (;;) {
    const ev: RunEvent = await run.next();
    if (ev.type === 'chunk') text += ev.content;
    else if (ev.type === 'final') return { text, end: 'final' };
    else if (ev.type === 'error') return { text, end: `error:${ev.code}` };
    else if (ev.type !== 'started') return { text, end: ev.type };
  }
}

test('a stream that received text is never continued by a second run: it ends with worker_lost and the job is taken back', async () => {
  const { inbox, run, cancels } = setup(true);
  for (const m of [started('a'), chunk('a', 1, 'The sky is '), started('b'), chunk('b', 1, 'The sky is blue.'), final('b', 2)]) inbox.push(m);
  assert.deepEqual(await drain(run), { text: 'The sky is ', end: 'error:worker_lost' });
  assert.deepEqual(cancels, ['worker_lost']);
});

test('a rerun before any text reached the client is followed transparently', async () => {
  const { inbox, run, cancels } = setup(true);
  for (const m of [started('a'), started('b'), chunk('b', 1, 'Blue.'), final('b', 2)]) inbox.push(m);
  assert.deepEqual(await drain(run), { text: 'Blue.', end: 'final' });
  assert.deepEqual(cancels, []);
});

test("a non-stream answer holds a run's text until its final, so a rerun after a lost worker starts clean", async () => {
  const { inbox, run } = setup(false);
  for (const m of [started('a'), chunk('a', 1, 'half an ans'), lost('w-a'), started('b'), chunk('b', 1, 'A whole answer.'), final('b', 2)]) inbox.push(m);
  assert.deepEqual(await drain(run), { text: 'A whole answer.', end: 'final' });
});

test("a final carrying the run's last text is answered with it, after the run's chunks (non-stream: the whole answer in one message)", async () => {
  const whole = setup(false);
  whole.inbox.push({ type: 'final', requestId: 'r1', runId: 'a', seq: 0, workerId: 'w-a', finishReason: 'stop', usage, content: 'All of it.' });
  assert.deepEqual(await drain(whole.run), { text: 'All of it.', end: 'final' });
  const stream = setup(true);
  for (const m of [started('a'), chunk('a', 1, 'Once '), { ...final('a', 2), content: 'upon a time.' } as RelayMessage]) stream.inbox.push(m);
  assert.deepEqual(await drain(stream.run), { text: 'Once upon a time.', end: 'final' });
});

test('a lost worker after text reached the client ends the stream at once; before text, a job not requeued is a 503', async () => {
  const s = setup(true);
  for (const m of [started('a'), chunk('a', 1, 'Once upon'), lost('w-a')]) s.inbox.push(m);
  assert.deepEqual(await drain(s.run), { text: 'Once upon', end: 'error:worker_lost' });
  const n = setup(true);
  for (const m of [started('a'), lost('w-a', false)]) n.inbox.push(m);
  assert.deepEqual(await drain(n.run), { text: '', end: 'error:worker_lost' });
});

test('a non-stream run without `started` (the worker sends its chunk and final only) is answered; a lost worker before it is a 503 at once if not requeued, else waited out', async () => {
  const plain = setup(false);
  for (const m of [chunk('a', 0, 'All of it.'), final('a', 1)]) plain.inbox.push(m);
  assert.deepEqual(await drain(plain.run), { text: 'All of it.', end: 'final' });

  const failed = setup(false);
  failed.inbox.push(lost('w-a', false));
  assert.deepEqual(await drain(failed.run), { text: '', end: 'error:worker_lost' });
  assert.deepEqual(failed.cancels, ['worker_lost']);

  const requeued = setup(false);
  for (const m of [lost('w-a'), chunk('b', 0, 'From the second run.'), final('b', 1)]) requeued.inbox.push(m);
  assert.deepEqual(await drain(requeued.run), { text: 'From the second run.', end: 'final' });
});

test('a lost notice about another worker, duplicates and messages of a superseded run are ignored', async () => {
  const { inbox, run } = setup(true);
  for (const m of [started('a'), started('b'), lost('w-a'), chunk('a', 1, 'stale '), chunk('b', 1, 'one '), chunk('b', 1, 'one '), chunk('b', 2, 'two'), final('b', 3)]) inbox.push(m);
  assert.deepEqual(await drain(run), { text: 'one two', end: 'final' });
});

test('a gap in a run (messages lost on a relay reconnect) ends the answer with relay_interrupted; a lost `started` alone does not', async () => {
  const g = setup(true);
  for (const m of [started('a'), chunk('a', 1, 'one '), chunk('a', 3, 'three')]) g.inbox.push(m);
  assert.deepEqual(await drain(g.run), { text: 'one ', end: 'error:relay_interrupted' });
  const ok = setup(true);
  for (const m of [chunk('a', 1, 'one'), final('a', 2)]) ok.inbox.push(m);
  assert.deepEqual(await drain(ok.run), { text: 'one', end: 'final' });
});

test('after a relay reconnect, a job gone from its queue is answered at once; one still running is waited for', async () => {
  const gone = setup(false, 'gone');
  gone.inbox.push(started('a'));
  await gone.run.resync();
  assert.deepEqual(await drain(gone.run), { text: '', end: 'error:relay_interrupted' });
  const running = setup(false, 'running');
  running.inbox.push(started('a'));
  await running.run.resync();
  running.inbox.push(chunk('a', 1, 'fine'));
  running.inbox.push(final('a', 2));
  assert.deepEqual(await drain(running.run), { text: 'fine', end: 'final' });
});
