import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchInput, chatBody, checkBatchFiles } from './replay';
import { TraceEntry } from './trace';

const entry = (priority: TraceEntry['priority'], stream = false): TraceEntry => ({ t: 1, model: 'llama3.1:8b', prompt_tokens: 20, max_tokens: 16, stream, priority, user: 'u1' });

test('a batch line carries the body the replay would have sent, with custom_id = the trace index', () => {
  const trace = [entry('interactive', true), entry('bulk'), entry('bulk')];
  const lines = batchInput(trace, [1, 2])
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { custom_id: string; method: string; url: string; body: unknown });
  assert.deepEqual(
    lines.map((l) => [l.custom_id, l.method, l.url]),
    [
      ['1', 'POST', '/v1/chat/completions'],
      ['2', 'POST', '/v1/chat/completions'],
    ],
  );
  assert.deepEqual(lines[0].body, chatBody(trace[1], 1));
  assert.deepEqual(chatBody(trace[0], 0).stream_options, { include_usage: true });
});

const out = (id: string, code = 200) => JSON.stringify({ id: `r-${id}`, custom_id: id, response: { status_code: code, request_id: 'x', body: {} }, error: null });

test('the output and error files must hold every custom_id exactly once', () => {
  const ok = checkBatchFiles(['1', '2', '3'], `${out('1')}\n${out('3')}\n`, `${out('2', 404)}\n`);
  assert.deepEqual(ok.check, { outputLines: 2, errorLines: 1, missing: 0, duplicates: 0, unknown: 0, ok: true });
  assert.equal(ok.status.get('1'), 200);
  assert.equal(ok.status.get('2'), 404);

  const bad = checkBatchFiles(['1', '2', '3'], `${out('1')}\n${out('1')}\n${out('9')}\nnot json\n`, '');
  assert.deepEqual(bad.check, { outputLines: 4, errorLines: 0, missing: 2, duplicates: 1, unknown: 2, ok: false });
});

test('a line with an error object counts as failed even without a status code', () => {
  const r = checkBatchFiles(['1'], '', JSON.stringify({ id: 'r', custom_id: '1', response: null, error: { code: 'x', message: 'y' } }));
  assert.equal(r.status.get('1'), 0);
  assert.equal(r.check.ok, true);
});
