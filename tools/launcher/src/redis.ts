import { spawnSync } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { redisUnixSocket } from '@switchyard/config';

/** Where the redis-server the launcher starts on `port` puts its unix socket (one per port, so launchers side by side do not meet). */
export function redisSocketPath(port: string): string {
  return path.join(os.tmpdir(), `switchyard-redis-${port}.sock`);
}

/** True when something at `url` (redis:// or unix://) answers PING with PONG within `timeoutMs`. */
export function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const u = new URL(url);
  const socketPath = redisUnixSocket(url);
  return new Promise((resolve) => {
    const socket = socketPath ? net.connect({ path: socketPath }) : net.connect({ host: u.hostname, port: Number(u.port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => {
      const auth = u.password ? `AUTH ${decodeURIComponent(u.password)}\r\n` : '';
      socket.write(`${auth}PING\r\n`);
    });
    socket.on('data', (d) => done(d.toString().includes('PONG')));
  });
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export const REDIS_INSTALL_HINT =
  'Switchyard needs Redis (BullMQ queues). Install it and run again:\n' +
  '  Debian/Ubuntu: sudo apt-get install redis-server\n' +
  '  macOS:         brew install redis\n' +
  'or point REDIS_URL at a running Redis (redis://host:6379).';
