import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');

test('the committed gRPC code is what the .proto files generate', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'tools/scripts/proto-gen.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});

test('the .proto files pass buf lint', () => {
  const r = spawnSync(path.join(root, 'node_modules/.bin/buf'), ['lint'], { cwd: path.join(root, 'libs/contracts'), encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});
