import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { discoverGpuMemory } from './gpu-memory';

const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** An HTTP server answering /sim/stats as the simulator does (or 404 as a real Ollama does). */
async function ollama(simStats: object | undefined): Promise<string> {
  const server = createServer((req, res) => {
    if (req.url === '/sim/stats' && simStats) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(simStats));
    else res.writeHead(404).end('404 page not found');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('WORKER_GPU_MEMORY_GB wins over anything discovered', async () => {
  assert.deepEqual(await discoverGpuMemory(24, await ollama({ vram_bytes: 80e9 })), { bytes: 24e9, source: 'WORKER_GPU_MEMORY_GB' });
});

test('a simulated GPU says its memory at /sim/stats', async () => {
  assert.deepEqual(await discoverGpuMemory(undefined, await ollama({ gpu: 0, vram_bytes: 80e9 })), { bytes: 80e9, source: 'ollama' });
});

test('a real Ollama (404) or an unreachable one says nothing: the next source is asked', async () => {
  const fromReal = await discoverGpuMemory(undefined, await ollama(undefined));
  assert.notEqual(fromReal.source, 'ollama');
  const fromNowhere = await discoverGpuMemory(undefined, 'http://127.0.0.1:1');
  assert.notEqual(fromNowhere.source, 'ollama');
  if (fromNowhere.source === 'unknown') assert.equal(fromNowhere.bytes, 0);
});
