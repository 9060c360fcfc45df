import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { APIError } from 'openai';
import { RedisKeys, modelListSchema, type ResidencyEntry } from '@switchyard/contracts';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, startEdgeHarness, type EdgeHarness } from '../testing/edge-harness';

const LIMITED_KEY = 'sk-test-models-limited-0123456789';

describe('GET models, GET models/{id}', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({
      keys: { [LIMITED_KEY]: { keyId: 'key-lim', userId: 'user-2', policy: { allModels: false, allowedModels: ['llama3.1:8b', 'bulk:7b'], pool: 'performance' } } },
    });
    const entry: ResidencyEntry = { model: 'llama3.1:8b', workers: ['w1', 'w2'], loading: [], loadSeconds: 2.5, slots: 8, updatedAt: Date.now() };
    await h.redis.hset(RedisKeys.residency(h.prefix), 'llama3.1:8b', JSON.stringify(entry));
  });
  after(async () => {
    await h.close();
  });

  for (const base of ['v1', 'api'] as const) {
    test(`the catalogue under /${base}/models in OpenAI's shape, with residency`, async () => {
      const page = await h.client(ALL_KEY, base).models.list();
      const body: unknown = { object: 'list', data: page.data };
      assertOpenAISchema('ListModelsResponse', body);
      modelListSchema.parse(body);
      const ids = page.data.map((m) => m.id);
      assert.ok(ids.includes('llama3.1:8b') && ids.includes('nomic-embed-text') && ids.includes('cold:70b'));
      const llama = (body as { data: Array<{ id: string; switchyard: unknown }> }).data.find((m) => m.id === 'llama3.1:8b');
      assert.deepEqual(llama?.switchyard, { resident: true, workers: 2, context_window: 8192, pool: 'shared', queued: 0 });
      const tiny = (body as { data: Array<{ id: string; switchyard: unknown }> }).data.find((m) => m.id === 'tiny:1b');
      assert.deepEqual(tiny?.switchyard, { resident: false, workers: 0, context_window: 512, pool: 'shared', queued: 0 });
    });
  }

  test('GET /v1/models/llama3.1:8b routes (ids hold ":" and "."), raw and through the SDK', async () => {
    const raw = await fetch(`${h.url}/v1/models/llama3.1:8b`, { headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.equal(raw.status, 200);
    const body = (await raw.json()) as { id: string; switchyard: { resident: boolean } };
    assertOpenAISchema('Model', body);
    assert.equal(body.id, 'llama3.1:8b');
    assert.equal(body.switchyard.resident, true);
    const viaSdk = await h.client(ALL_KEY, 'api').models.retrieve('tiny:1b');
    assert.equal(viaSdk.id, 'tiny:1b');
    assertOpenAISchema('Model', viaSdk);
  });

  test('a key sees only its models, in its pool; others are 404 model_not_found', async () => {
    const page = await h.client(LIMITED_KEY).models.list();
    assert.deepEqual(page.data.map((m) => m.id).sort(), ['bulk:7b', 'llama3.1:8b']);
    const m = (await h.client(LIMITED_KEY).models.retrieve('llama3.1:8b')) as unknown as { switchyard: { pool: string } };
    assert.equal(m.switchyard.pool, 'performance');
    for (const id of ['codellama:13b', 'no-such-model']) {
      await assert.rejects(h.client(LIMITED_KEY).models.retrieve(id), (err: unknown) => {
        assert.ok(err instanceof APIError);
        assert.equal(err.status, 404);
        assert.equal(err.code, 'model_not_found');
        assertOpenAISchema('ErrorResponse', { error: err.error });
        return true;
      });
    }
  });

  test('the list body itself is OpenAI\'s ListModelsResponse; models need a key too', async () => {
    const ok = await fetch(`${h.url}/v1/models`, { headers: { authorization: `Bearer ${ALL_KEY}` } });
    assert.match(ok.headers.get('content-type') ?? '', /^application\/json/);
    assertOpenAISchema('ListModelsResponse', await ok.json());
    const res = await fetch(`${h.url}/v1/models`);
    assert.equal(res.status, 401);
    assertOpenAISchema('ErrorResponse', await res.json());
  });
});
