import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNdjson } from './ndjson';

async function collect(chunks: Array<Uint8Array | string>): Promise<unknown[]> {
  async function* source() {
    for (const c of chunks) yield c;
  }
  const out: unknown[] = [];
  for await (const v of parseNdjson(source())) out.push(v);
  return out;
}

test('splits lines that arrive across chunk boundaries, and a last line without newline', async () => {
  const out = await collect(['{"a":1}\n{"b"', ':2}\n\n', '{"c":3}']);
  assert.deepEqual(out, [{ a: 1 }, { b: 2 }, { c: 3 }]);
});

test('decodes multi-byte characters split between chunks', async () => {
  const bytes = Buffer.from('{"t":"héllo 🚀"}\n', 'utf8');
  const cut = bytes.indexOf(0xf0) + 2; // inside the 4-byte emoji
  const out = await collect([bytes.subarray(0, cut), bytes.subarray(cut)]);
  assert.deepEqual(out, [{ t: 'héllo 🚀' }]);
});

test('a malformed line throws', async () => {
  await assert.rejects(collect(['{"a":1}\n{oops}\n']), SyntaxError);
});
