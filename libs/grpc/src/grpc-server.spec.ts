import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from '@grpc/grpc-js';
import net from 'node:net';
import { bindGrpcServer, shutdownGrpcServer } from './grpc-server';

test('binds port 0 to a real port, accepts connections, and shuts down', async () => {
  const server = new Server();
  const port = await bindGrpcServer(server, '127.0.0.1:0');
  assert.ok(port > 0);
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  });
  await shutdownGrpcServer(server, 1000);
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    }),
  );
});
