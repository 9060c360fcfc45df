import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisAnswers, redisServerInstalled } from './redis';

test('redisAnswers reaches a redis-server through its unix socket, and says no where none listens', { skip: !redisServerInstalled() && 'redis-server is not installed' }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-launcher-redis-'));
  const socket = path.join(dir, 'redis.sock');
  // Port 0: no TCP listener at all, so only the socket can answer.
  const server = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  t.after(() => {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await redisAnswers(`unix://${socket}`), true);
  assert.equal(await redisAnswers(`unix://${path.join(dir, 'nothing.sock')}`), false);
});
