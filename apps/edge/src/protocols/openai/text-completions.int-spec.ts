import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { APIError } from 'openai';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, readSse, startEdgeHarness, type EdgeHarness } from '../../testing/edge-harness';

/**
 * OpenAI's `CreateCompletionResponse` says streamed and whole completions share one shape with a
 * non-null `finish_reason`; OpenAI's API itself (as Ollama, vLLM and the clients that read them)
 * sends `finish_reason: null` on every streamed chunk but the last. We send null as they do; such a
 * chunk is checked to have exactly that null, and otherwise validated against OpenAI's schema.
 */
function assertTextChunk(chunk: unknown): void {
  const c = chunk as { choices: Array<{ finish_reason: string | null }> };
  const unfinished = c.choices.length === 1 && c.choices[0].finish_reason === null;
  assertOpenAISchema('CreateCompletionResponse', unfinished ? { ...c, choices: [{ ...c.choices[0], finish_reason: 'stop' }] } : c);
}

describe('POST completions (prompt + suffix, as editors autocomplete)', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness();
  });
  after(async () => {
    await h.close();
  });

  for (const base of ['v1', 'api'] as const) {
    test(`non-stream fill-in-the-middle under /${base}/`, async () => {
      const res = await h.client(ALL_KEY, base).completions.create({
        model: 'codellama:13b',
        prompt: 'def add(a, b):\n    ',
        suffix: '\n\nprint(add(1, 2))',
        max_tokens: 32,
        temperature: 0,
        stop: ['\n\n'],
      });
      assertOpenAISchema('CreateCompletionResponse', res);
      assert.equal(res.object, 'text_completion');
      assert.equal(res.choices[0].text, 'Hello from the fake worker.');
      assert.equal(res.choices[0].finish_reason, 'stop');
      assert.equal(res.usage?.completion_tokens, 3);
      const job = h.worker.received[h.worker.received.length - 1];
      assert.ok(job.work.kind === 'generate');
      assert.equal(job.work.prompt, 'def add(a, b):\n    ');
      assert.equal(job.work.suffix, '\n\nprint(add(1, 2))');
      assert.deepEqual(job.work.options, { temperature: 0, top_p: 1, stop: ['\n\n'], num_predict: 32 });
      assert.equal(job.numCtx, 8192);
    });
  }

  test('stream: text chunks, a finish chunk, the usage chunk, [DONE]', async () => {
    const stream = await h.client().completions.create({
      model: 'codellama:13b',
      prompt: 'const x = ',
      suffix: ';',
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) {
      assertTextChunk(chunk);
      chunks.push(chunk);
    }
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    assert.equal(new Set(chunks.map((c) => c.created)).size, 1);
    assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), 'Hello from the fake worker.');
    assert.equal(chunks[chunks.length - 2].choices[0].finish_reason, 'stop');
    assert.deepEqual(chunks[chunks.length - 1].choices, []);
    assert.equal(chunks[chunks.length - 1].usage?.completion_tokens, 3);

    const raw = await fetch(`${h.url}/api/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'codellama:13b', prompt: 'x', stream: true }),
    });
    assert.match(raw.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = (await readSse(raw)).filter((e) => e.data !== undefined);
    assert.equal(events[events.length - 1].data, '[DONE]');
  });

  test('echo puts the prompt first; finish_reason length is passed on', async () => {
    const res = await h.client().completions.create({ model: 'codellama:13b', prompt: 'Once [length]', echo: true });
    assertOpenAISchema('CreateCompletionResponse', res);
    assert.equal(res.choices[0].text, 'Once [length]Hello from the fake worker.');
    assert.equal(res.choices[0].finish_reason, 'length');
  });

  test('several prompts, n=3, or a chat-only field are refused with 400', async () => {
    const c = h.client();
    for (const [body, param] of [
      [{ model: 'codellama:13b', prompt: ['a', 'b'] }, 'prompt'],
      [{ model: 'codellama:13b', prompt: 'a', n: 3 }, 'n'],
      [{ model: 'codellama:13b' }, 'prompt'],
    ] as const) {
      await assert.rejects(c.completions.create(body as Parameters<typeof c.completions.create>[0]), (err: unknown) => {
        assert.ok(err instanceof APIError);
        assert.equal(err.status, 400);
        assert.equal(err.param, param);
        assertOpenAISchema('ErrorResponse', { error: err.error });
        return true;
      });
    }
  });

  test('a mid-stream failure ends the stream with an in-band error the SDK throws', async () => {
    const stream = await h.client().completions.create({ model: 'codellama:13b', prompt: 'x [fail-after]', stream: true });
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) assertTextChunk(chunk);
      })(),
      (err: unknown) => err instanceof APIError && err.code === 'worker_error',
    );
  });
});
