import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Catalogue, defaultCatalogue, defaultGenTokensPerS, defaultPromptTokensPerS, normaliseModelName, parseCatalogue } from './catalogue';

describe('catalogue', () => {
  test('the default catalogue has the portal models, an embedding model, and several GPUs worth of weights', () => {
    const models = defaultCatalogue();
    const byName = new Map(models.map((m) => [m.name, m]));
    for (const [name, gb] of [
      ['llama3.1:8b', 4.9],
      ['codellama:13b', 7.4],
      ['codestral:22b', 12.6],
      ['mistral-large:123b', 73],
      ['llama3.1:70b', 40],
      ['mixtral:8x7b', 26],
    ] as const) {
      assert.equal(byName.get(name)?.sizeGb, gb, name);
    }
    const embed = byName.get('nomic-embed-text:latest');
    assert.equal(embed?.embeddingLength, 768);
    assert.deepEqual(embed?.capabilities, ['embedding']);
    const total = models.reduce((s, m) => s + m.sizeGb, 0);
    assert.ok(total > 3 * 80, `total ${total} GB`);
  });

  test('default rates follow the reported figures and fall with size', () => {
    assert.ok(Math.abs(defaultGenTokensPerS(4.9) - 140) < 1e-9);
    assert.ok(Math.abs(defaultGenTokensPerS(7.4) - 75) < 1e-9);
    assert.ok(Math.abs(defaultGenTokensPerS(12.6) - 50) < 1e-9);
    assert.ok(Math.abs(defaultGenTokensPerS(40) - 24) < 1e-9);
    assert.ok(Math.abs(defaultGenTokensPerS(73) - 14) < 1e-9);
    assert.ok(Math.abs(defaultPromptTokensPerS(4.7) - 4900) < 1e-9);
    assert.ok(Math.abs(defaultPromptTokensPerS(40) - 850) < 1e-9);
    for (const [small, big] of [
      [1, 2],
      [4, 6],
      [20, 30],
      [80, 120],
    ]) {
      assert.ok(defaultGenTokensPerS(small) > defaultGenTokensPerS(big));
      assert.ok(defaultPromptTokensPerS(small) > defaultPromptTokensPerS(big));
    }
  });

  test('YAML and JSON load, with defaults and explicit rates', () => {
    const yaml = parseCatalogue('- {name: m1, size_gb: 2, context_length: 4096, family: llama, parameter_size: 3B, gen_tokens_per_s: 200}');
    assert.equal(yaml[0].name, 'm1:latest');
    assert.equal(yaml[0].genTokensPerS, 200);
    assert.equal(yaml[0].quantizationLevel, 'Q4_K_M');
    assert.deepEqual(yaml[0].capabilities, ['completion']);
    const json = parseCatalogue(JSON.stringify({ models: [{ name: 'x:7b', size_gb: 4, context_length: 8192, family: 'qwen2', parameter_size: '7B' }] }));
    assert.equal(json[0].name, 'x:7b');
    assert.ok(json[0].promptTokensPerS > 4900);
  });

  test('an invalid catalogue fails listing every problem', () => {
    assert.throws(
      () => parseCatalogue('- {name: m1, size_gb: -2, family: llama, parameter_size: 3B, capabilities: [flying]}', 'bad.yaml'),
      (err: Error) => /bad\.yaml/.test(err.message) && /size_gb/.test(err.message) && /context_length/.test(err.message) && /capabilities/.test(err.message),
    );
    assert.throws(() => parseCatalogue('- {name: a, size_gb: 1, context_length: 1, family: f, parameter_size: 1B}\n- {name: "a:latest", size_gb: 1, context_length: 1, family: f, parameter_size: 1B}'), /twice/);
  });

  test('names without a tag mean :latest', () => {
    assert.equal(normaliseModelName('nomic-embed-text'), 'nomic-embed-text:latest');
    assert.equal(normaliseModelName('llama3.1:8b'), 'llama3.1:8b');
    assert.equal(normaliseModelName('host:5000/user/model'), 'host:5000/user/model:latest');
    const c = new Catalogue(defaultCatalogue());
    assert.equal(c.find('nomic-embed-text')?.name, 'nomic-embed-text:latest');
    assert.equal(c.find('llama3.1'), undefined);
  });
});
