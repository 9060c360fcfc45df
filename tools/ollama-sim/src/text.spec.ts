import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countTokens, embeddingFor, jsonTokensFor, planOutput, proseFor, rngFrom, toolCallFor } from './text';

describe('deterministic text', () => {
  test('the same key gives the same text; another key another', () => {
    const a = proseFor(rngFrom('k1')).join('');
    assert.equal(proseFor(rngFrom('k1')).join(''), a);
    assert.notEqual(proseFor(rngFrom('k2')).join(''), a);
    const n = proseFor(rngFrom('k1')).length;
    assert.ok(n >= 20 && n <= 120);
  });

  test('token estimate: max(1, ceil(chars / 4)) per word', () => {
    assert.equal(countTokens(''), 0);
    assert.equal(countTokens('a bb ccc dddd'), 4);
    assert.equal(countTokens('abcdefghi'), 3);
  });

  test('num_predict cuts with done_reason length; otherwise stop', () => {
    const tokens = ['One', ' two', ' three', ' four.'];
    assert.deepEqual(planOutput(tokens, undefined, []), { pieces: tokens, text: 'One two three four.', evalCount: 4, doneReason: 'stop' });
    const cut = planOutput(tokens, 2, []);
    assert.equal(cut.text, 'One two');
    assert.equal(cut.evalCount, 2);
    assert.equal(cut.doneReason, 'length');
    assert.equal(planOutput(tokens, 10, []).doneReason, 'stop');
  });

  test('stop sequences end the text before them and hold back partial matches', () => {
    const tokens = ['One', ' two', ' thr', 'ee', ' four.'];
    const p = planOutput(tokens, undefined, [' three']);
    assert.equal(p.text, 'One two');
    assert.equal(p.doneReason, 'stop');
    assert.equal(p.evalCount, 4);
    assert.deepEqual(p.pieces, ['One', ' two', '', '']);
    const miss = planOutput(['a', ' th', 'x'], undefined, [' three']);
    assert.equal(miss.pieces.join(''), 'a thx');
    assert.deepEqual(miss.pieces, ['a', '', ' thx']);
  });

  test('JSON format gives valid JSON; a schema is followed', () => {
    const free = JSON.parse(jsonTokensFor(rngFrom('j'), 'json').join('')) as Record<string, unknown>;
    assert.equal(typeof free, 'object');
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 1, maximum: 5 }, tags: { type: 'array', items: { type: 'string' } }, kind: { enum: ['x', 'y'] } },
      required: ['name', 'age'],
    };
    const v = JSON.parse(jsonTokensFor(rngFrom('s'), schema).join('')) as { name: string; age: number; tags: string[]; kind: string };
    assert.equal(typeof v.name, 'string');
    assert.ok(Number.isInteger(v.age) && v.age >= 1 && v.age <= 5);
    assert.ok(Array.isArray(v.tags));
    assert.equal(v.kind, 'x');
  });

  test('tool calls use the first tool with arguments from its schema', () => {
    const call = toolCallFor(rngFrom('t'), [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] } } },
      { type: 'function', function: { name: 'other' } },
    ]);
    assert.equal(call?.function.name, 'get_weather');
    assert.equal(typeof call?.function.arguments.city, 'string');
    assert.equal(typeof call?.function.arguments.days, 'number');
  });

  test('embeddings are deterministic unit vectors', () => {
    const v = embeddingFor('e', 768);
    assert.equal(v.length, 768);
    assert.deepEqual(embeddingFor('e', 768), v);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-9);
  });
});
