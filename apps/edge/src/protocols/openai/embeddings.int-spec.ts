import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { APIError } from 'openai';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, startEdgeHarness, type EdgeHarness } from '../../testing/edge-harness';

describe('POST embeddings', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness();
  });
  after(async () => {
    await h.close();
  });

  test('the SDK default (base64, decoded by the SDK) gives back the worker\'s float vectors', async () => {
    const { data: res, response } = await h.client().embeddings.create({ model: 'nomic-embed-text', input: ['alpha', 'beta'] }).withResponse();
    assert.equal(res.object, 'list');
    assert.equal(res.model, 'nomic-embed-text');
    assert.deepEqual(
      res.data.map((d) => d.embedding),
      [
        [0.5, -0.25, 0.125],
        [1.5, -0.25, 0.125],
      ],
    );
    assert.deepEqual(res.data.map((d) => d.index), [0, 1]);
    assert.equal(res.usage.prompt_tokens, res.usage.total_tokens);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_/);
    const job = h.worker.received[h.worker.received.length - 1];
    assert.deepEqual(job.work, { kind: 'embed', input: ['alpha', 'beta'] });
    assert.equal(job.numCtx, 2048);
  });

  for (const base of ['v1', 'api'] as const) {
    test(`encoding_format float under /${base}/ validates against OpenAI's schema; base64 is little-endian float32`, async () => {
      const float = await h.client(ALL_KEY, base).embeddings.create({ model: 'nomic-embed-text', input: 'one string', encoding_format: 'float' });
      assertOpenAISchema('CreateEmbeddingResponse', float);
      assert.deepEqual(float.data[0].embedding, [0.5, -0.25, 0.125]);

      const raw = await fetch(`${h.url}/${base}/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ALL_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'nomic-embed-text', input: 'one string', encoding_format: 'base64' }),
      });
      const body = (await raw.json()) as { data: Array<{ embedding: string }> };
      const buf = Buffer.from(body.data[0].embedding, 'base64');
      assert.equal(buf.length, 12);
      assert.deepEqual([0, 1, 2].map((i) => buf.readFloatLE(i * 4)), [0.5, -0.25, 0.125]);
      // OpenAI's schema types `embedding` as number[] only, though its API answers base64 strings; check the rest.
      assertOpenAISchema('CreateEmbeddingResponse', { ...body, data: body.data.map((d) => ({ ...d, embedding: [] })) });
    });
  }

  test('more than 2048 inputs, an empty input, or an input longer than the context get a 400', async () => {
    const c = h.client();
    const cases: Array<[Parameters<typeof c.embeddings.create>[0], string, string | null]> = [
      [{ model: 'nomic-embed-text', input: Array.from({ length: 2049 }, () => 'x'), encoding_format: 'float' }, 'input', 'invalid_value'],
      [{ model: 'nomic-embed-text', input: ['ok', ''], encoding_format: 'float' }, 'input[1]', 'invalid_value'],
      [{ model: 'nomic-embed-text', input: 'x'.repeat(3 * 2048 + 10), encoding_format: 'float' }, 'input', 'context_length_exceeded'],
    ];
    for (const [body, param, code] of cases) {
      await assert.rejects(c.embeddings.create(body), (err: unknown) => {
        assert.ok(err instanceof APIError);
        assert.equal(err.status, 400);
        assert.equal(err.param, param);
        assert.equal(err.code, code);
        assertOpenAISchema('ErrorResponse', { error: err.error });
        return true;
      });
    }
    const ok = await c.embeddings.create({ model: 'nomic-embed-text', input: Array.from({ length: 2048 }, (_, i) => `s${i}`), encoding_format: 'float' });
    assert.equal(ok.data.length, 2048);
  });

  test('chat on an embedding model is a 400', async () => {
    await assert.rejects(
      h.client().chat.completions.create({ model: 'nomic-embed-text', messages: [{ role: 'user', content: 'x' }] }),
      (err: unknown) => err instanceof APIError && err.status === 400 && err.code === 'model_not_supported',
    );
  });
});
