import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@switchyard/observability';
import { authEnvSchema } from '../config/auth.config';
import { AdminTokenService } from './admin-token.service';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger({ service: 'test', level: 'trace', destination }), lines };
}

test('the token from the environment is accepted, others are not', () => {
  const config = authEnvSchema.parse({ SWITCHYARD_ADMIN_TOKEN: 'a-token-of-enough-length' });
  const svc = new AdminTokenService(config, capture().logger);
  assert.equal(svc.matches('a-token-of-enough-length'), true);
  for (const wrong of ['', 'a-token-of-enough-lengt', 'a-token-of-enough-length ', 'A-TOKEN-OF-ENOUGH-LENGTH']) assert.equal(svc.matches(wrong), false);
});

test('without one, a token is generated into AUTH_DATA_DIR/admin-token (0600), logged only as generated, and reused', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'auth-token-'));
  try {
    const config = authEnvSchema.parse({ AUTH_DATA_DIR: path.join(dir, 'data') });
    const first = capture();
    const svc = new AdminTokenService(config, first.logger);
    const file = path.join(dir, 'data', 'admin-token');
    const token = readFileSync(file, 'utf8').trim();
    assert.ok(token.length >= 40);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(svc.matches(token), true);
    assert.match(first.lines.join(''), /generated an admin token/);
    assert.ok(!first.lines.join('').includes(token));
    const second = capture();
    assert.equal(new AdminTokenService(config, second.logger).matches(token), true);
    assert.ok(!second.lines.join('').includes(token));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
