import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { APIError } from 'openai';
import { RedisKeys, type ResidencyEntry } from '@switchyard/contracts';
import { assertOpenAISchema } from '@switchyard/testing';
import { ALL_KEY, startEdgeHarness, type EdgeHarness } from '../../testing/edge-harness';
import { assertOllamaError, call, ollamaClient } from './ollama-testing';

const NARROW_KEY = 'sk-test-ollama-models-narrow-0123';
const EMBED_ONLY_KEY = 'sk-test-ollama-embed-only-012345';

describe("Ollama's model routes and embeddings (/api/tags, ps, show, version, embed, embeddings)", () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({
      keys: {
        [NARROW_KEY]: { keyId: 'key-narrow', userId: 'u-narrow', policy: { allModels: false, allowedModels: ['llama3.1:8b'] } },
        [EMBED_ONLY_KEY]: { keyId: 'key-embed', userId: 'u-embed', policy: { allModels: false, allowedModels: ['nomic-embed-text'] } },
      },
    });
    const resident = (model: string, workers: string[], extra: Partial<ResidencyEntry> = {}): string =>
      JSON.stringify({ model, workers, loading: [], loadSeconds: 2, slots: 4 * workers.length, updatedAt: Date.now(), ...extra } satisfies ResidencyEntry);
    await h.redis.hset(RedisKeys.residency(h.prefix), {
      'llama3.1:8b': resident('llama3.1:8b', ['w1', 'w2'], { needBytes: 6_000_000_000 }),
      'codellama:13b': resident('codellama:13b', ['w1']),
      'cold:70b': JSON.stringify({ model: 'cold:70b', workers: [], loading: ['w2'], loadSeconds: 20, slots: 0, updatedAt: Date.now() } satisfies ResidencyEntry),
    });
  });
  after(async () => {
    await h.close();
  });

  describe('GET /api/tags, GET /api/ps, POST /api/show, GET /api/version', () => {
    test("/api/tags lists the catalogue in Ollama's shape; ollama-js list() reads it", async () => {
      const body = (await (await call(h, '/api/tags')).json()) as { models: Array<Record<string, unknown>> };
      assert.deepEqual(Object.keys(body), ['models']);
      const llama = body.models.find((m) => m.name === 'llama3.1:8b')!;
      assert.deepEqual(Object.keys(llama), ['name', 'model', 'modified_at', 'size', 'digest', 'details']);
      assert.equal(llama.model, 'llama3.1:8b');
      assert.equal(llama.size, 4_900_000_000);
      assert.match(llama.digest as string, /^[0-9a-f]{64}$/);
      assert.ok(!Number.isNaN(Date.parse(llama.modified_at as string)));
      assert.deepEqual(llama.details, { parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '8B', quantization_level: 'Q4_K_M' });
      const list = await ollamaClient(h).list();
      assert.deepEqual(list.models.map((m) => m.name).sort(), ['bulk:7b', 'codellama:13b', 'cold:70b', 'llama3.1:8b', 'llava:13b', 'nomic-embed-text', 'tiny:1b']);
    });

    test('/api/ps lists what is resident across the pool (not what is still loading), never expiring', async () => {
      const ps = await ollamaClient(h).ps();
      assert.deepEqual(ps.models.map((m) => m.name).sort(), ['codellama:13b', 'llama3.1:8b']);
      const llama = ps.models.find((m) => m.name === 'llama3.1:8b')! as unknown as Record<string, unknown>;
      assert.deepEqual(Object.keys(llama), ['name', 'model', 'size', 'digest', 'details', 'expires_at', 'size_vram', 'context_length']);
      assert.equal(llama.size, 6_000_000_000);
      assert.equal(llama.size_vram, 6_000_000_000);
      assert.equal(llama.context_length, 8192);
      assert.ok(Date.parse(llama.expires_at as string) > Date.now() + 200 * 365 * 86_400_000, 'expires_at is centuries away (keep_alive -1)');
    });

    test('/api/show: the card with the fixed context window and capabilities (model or name)', async () => {
      const show = await ollamaClient(h).show({ model: 'tiny:1b' });
      assert.equal(show.model_info['tiny.context_length' as never], 512);
      assert.deepEqual(show.capabilities, ['completion']);
      assert.match(show.parameters, /num_ctx\s+512/);
      assert.equal(show.details.parameter_size, '1B');
      const res = await call(h, '/api/show', { name: 'nomic-embed-text' });
      assert.equal(res.status, 200);
      const embed = (await res.json()) as { capabilities: string[]; model_info: Record<string, unknown> };
      assert.deepEqual(embed.capabilities, ['embedding']);
      assert.equal(embed.model_info['nomic.context_length'], 2048);
      await assertOllamaError(await call(h, '/api/show', { model: 'nope:1b' }), 404, /^model 'nope:1b' not found$/);
      await assertOllamaError(await call(h, '/api/show', {}), 400, /^model is required$/);
    });

    test('/api/version', async () => {
      const v = await ollamaClient(h).version();
      assert.match(v.version, /^\d+\.\d+\.\d+$/);
    });

    test('every route needs the key', async () => {
      for (const [path, body] of [['/api/tags'], ['/api/ps'], ['/api/version'], ['/api/show', { model: 'llama3.1:8b' }]] as const) {
        await assertOllamaError(await call(h, path, body, null), 401);
      }
    });

    test('pull, push, create, copy and delete are refused: the operators manage the catalogue', async () => {
      for (const path of ['/api/pull', '/api/push', '/api/create', '/api/copy', '/api/blobs/sha256:abc']) {
        await assertOllamaError(await call(h, path, { model: 'llama3.1:8b' }), 403, /catalogue is managed by the operators/);
      }
      await assertOllamaError(await call(h, '/api/delete', { model: 'llama3.1:8b' }, ALL_KEY, 'DELETE'), 403, /managed by the operators/);
      await assert.rejects(ollamaClient(h).pull({ model: 'llama3.1:8b' }), (err: { status_code: number; error: string }) => {
        assert.equal(err.status_code, 403);
        assert.match(err.error, /managed by the operators/);
        return true;
      });
    });

    test('a key limited to one model sees only it in tags and ps; show of another is not found', async () => {
      const tags = await ollamaClient(h, NARROW_KEY).list();
      assert.deepEqual(tags.models.map((m) => m.name), ['llama3.1:8b']);
      const ps = await ollamaClient(h, NARROW_KEY).ps();
      assert.deepEqual(ps.models.map((m) => m.name), ['llama3.1:8b']);
      assert.equal((await call(h, '/api/show', { model: 'llama3.1:8b' }, NARROW_KEY)).status, 200);
      await assertOllamaError(await call(h, '/api/show', { model: 'codellama:13b' }, NARROW_KEY), 404, /^model 'codellama:13b' not found$/);
    });
  });

  describe('POST /api/embed', () => {
    test("a list of inputs → embeddings in Ollama's shape; one string too (ollama-js embed)", async () => {
      const res = await call(h, '/api/embed', { model: 'nomic-embed-text', input: ['a', 'b'], keep_alive: -1, truncate: true });
      assert.equal(res.status, 200);
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ['model', 'embeddings', 'total_duration', 'load_duration', 'prompt_eval_count']);
      assert.deepEqual(body.embeddings, [
        [0.5, -0.25, 0.125],
        [1.5, -0.25, 0.125],
      ]);
      assert.ok(Number.isInteger(body.total_duration) && (body.total_duration as number) > 0);
      assert.ok(Number.isInteger(body.prompt_eval_count));
      const one = await ollamaClient(h).embed({ model: 'nomic-embed-text', input: 'hello', dimensions: 3 });
      assert.deepEqual(one.embeddings, [[0.5, -0.25, 0.125]]);
      const job = h.worker.received.find((j) => j.work.kind === 'embed' && j.work.input[0] === 'hello');
      assert.deepEqual(job?.work, { kind: 'embed', input: ['hello'], dimensions: 3 });
    });

    test('`name` and `name:latest` are one model, as in Ollama; the answer names it as the client did', async () => {
      const res = (await (await call(h, '/api/embed', { model: 'nomic-embed-text:latest', input: 'x' })).json()) as { model: string; embeddings: unknown[] };
      assert.equal(res.model, 'nomic-embed-text:latest');
      assert.equal(res.embeddings.length, 1);
      assert.equal((await call(h, '/api/show', { model: 'nomic-embed-text:latest' })).status, 200);
      await assertOllamaError(await call(h, '/api/embed', { model: 'nomic-embed-text:v2', input: 'x' }), 404);
    });

    test('no input answers no vectors without running anything; errors in Ollama\'s shape', async () => {
      const before = h.worker.received.length;
      const empty = (await (await call(h, '/api/embed', { model: 'nomic-embed-text', input: [] })).json()) as Record<string, unknown>;
      assert.deepEqual(empty, { model: 'nomic-embed-text', embeddings: [] });
      assert.equal(h.worker.received.length, before);
      await assertOllamaError(await call(h, '/api/embed', { model: 'nope', input: 'x' }), 404, /^model 'nope' not found$/);
      await assertOllamaError(await call(h, '/api/embed', { input: 'x' }), 400, /^model is required$/);
      await assertOllamaError(await call(h, '/api/embed', { model: 'nomic-embed-text', input: 42 }), 400, /input/);
      await assertOllamaError(await call(h, '/api/embed', { model: 'nomic-embed-text', input: ['a', ''] }), 400, /empty/);
      await assertOllamaError(await call(h, '/api/embed', { model: 'nomic-embed-text', input: 'x'.repeat(7000) }), 400, /context length/);
    });

    test('a key limited to one model gets 403 for another on /api/embed', async () => {
      assert.equal((await call(h, '/api/embed', { model: 'nomic-embed-text', input: 'x' }, EMBED_ONLY_KEY)).status, 200);
      await assertOllamaError(await call(h, '/api/embed', { model: 'nomic-embed-text', input: 'x' }, NARROW_KEY), 403, /nomic-embed-text/);
    });
  });

  describe('POST /api/embeddings: Ollama\'s legacy route and OpenAI\'s embeddings under /api/, told apart by the body', () => {
    test('{model, prompt} → {embedding} (ollama-js embeddings)', async () => {
      const res = await call(h, '/api/embeddings', { model: 'nomic-embed-text', prompt: 'hello there' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { embedding: [0.5, -0.25, 0.125] });
      const viaJs = await ollamaClient(h).embeddings({ model: 'nomic-embed-text', prompt: 'hi' });
      assert.deepEqual(viaJs.embedding, [0.5, -0.25, 0.125]);
      const empty = await call(h, '/api/embeddings', { model: 'nomic-embed-text', prompt: '' });
      assert.deepEqual(await empty.json(), { embedding: [] });
    });

    test("{model, input} → OpenAI's list (the openai client with the portal's base URL)", async () => {
      const r = await h.client(ALL_KEY, 'api').embeddings.create({ model: 'nomic-embed-text', input: ['a', 'b'], encoding_format: 'float' });
      assertOpenAISchema('CreateEmbeddingResponse', r);
      assert.equal(r.data.length, 2);
    });

    test('errors come in the shape of the API the body belongs to', async () => {
      await assertOllamaError(await call(h, '/api/embeddings', { model: 'nope', prompt: 'x' }), 404, /^model 'nope' not found$/);
      await assertOllamaError(await call(h, '/api/embeddings', { prompt: 'x' }), 400, /^model is required$/);
      await assertOllamaError(await call(h, '/api/embeddings', { model: 'nomic-embed-text', prompt: 'x' }, null), 401);
      const openai = await call(h, '/api/embeddings', { model: 'nope', input: 'x' });
      assert.equal(openai.status, 404);
      const body = await openai.json();
      assertOpenAISchema('ErrorResponse', body);
      assert.equal((body as { error: { code: string } }).error.code, 'model_not_found');
      await assert.rejects(h.client(ALL_KEY, 'api').embeddings.create({ model: 'nope', input: 'x' }), (err: unknown) => err instanceof APIError && err.status === 404);
      // The same body under /v1/ is OpenAI's, whatever it holds.
      const v1 = await call(h, '/v1/embeddings', { model: 'nomic-embed-text', prompt: 'x' });
      assert.equal(v1.status, 400);
      assertOpenAISchema('ErrorResponse', await v1.json());
    });

    test('the allow-list holds both ways', async () => {
      await assertOllamaError(await call(h, '/api/embeddings', { model: 'nomic-embed-text', prompt: 'x' }, NARROW_KEY), 403, /nomic-embed-text/);
      const openai = await call(h, '/api/embeddings', { model: 'nomic-embed-text', input: 'x' }, NARROW_KEY);
      assert.equal(openai.status, 403);
      assert.equal(((await openai.json()) as { error: { code: string } }).error.code, 'model_not_allowed');
      assert.equal((await call(h, '/api/embeddings', { model: 'nomic-embed-text', prompt: 'x' }, EMBED_ONLY_KEY)).status, 200);
    });
  });
});
