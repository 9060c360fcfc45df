import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIGRATIONS, splitStatements } from './migrations';

test('migration scripts split into single statements without comments', () => {
  assert.deepEqual(splitStatements('create table a (x int);\n-- note\ncreate index i on a (x);\n'), ['create table a (x int)', 'create index i on a (x)']);
  for (const m of MIGRATIONS) for (const s of splitStatements(m.sql)) assert.doesNotMatch(s, /;\s*$/);
});

test('migration ids are unique and increasing', () => {
  const ids = MIGRATIONS.map((m) => m.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.equal(new Set(ids).size, ids.length);
});
