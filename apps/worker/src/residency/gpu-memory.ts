import { execFile } from 'node:child_process';

/** How the worker learned its GPU's memory (logged at start). */
export type GpuMemorySource = 'WORKER_GPU_MEMORY_GB' | 'ollama' | 'nvidia-smi' | 'unknown';

export interface GpuMemory {
  /** Total bytes; 0 when unknown. */
  bytes: number;
  source: GpuMemorySource;
}

/**
 * Total GPU memory of the GPU this worker's Ollama runs on, in this order:
 * 1. `WORKER_GPU_MEMORY_GB` when set (the launcher sets it for its simulated GPUs);
 * 2. Ollama's own answer where it gives one: Ollama's API reports each model's `size_vram`
 *    (`/api/ps`) but not the GPU's total (ollama/ollama#3822), so only the simulator answers,
 *    with `vram_bytes` at `/sim/stats`; a real Ollama says 404 and the next source is asked;
 * 3. the sum over `nvidia-smi`'s GPUs, when the worker runs on the GPU machine;
 * 4. else 0: unknown (the scheduler then caps the models per worker, and the worker exports no
 *    `total` series rather than a 0 that would read as a measurement).
 */
export async function discoverGpuMemory(configuredGb: number | undefined, ollamaUrl?: string): Promise<GpuMemory> {
  if (configuredGb !== undefined) return { bytes: Math.round(configuredGb * 1e9), source: 'WORKER_GPU_MEMORY_GB' };
  const fromOllama = ollamaUrl ? await ollamaReportedBytes(ollamaUrl) : 0;
  if (fromOllama > 0) return { bytes: fromOllama, source: 'ollama' };
  const fromNvidia = await nvidiaSmiBytes();
  if (fromNvidia > 0) return { bytes: fromNvidia, source: 'nvidia-smi' };
  return { bytes: 0, source: 'unknown' };
}

/** The simulator's `vram_bytes` (`GET /sim/stats`); 0 from a real Ollama (404) or on any failure. */
async function ollamaReportedBytes(ollamaUrl: string): Promise<number> {
  try {
    const res = await fetch(`${ollamaUrl.replace(/\/+$/, '')}/sim/stats`, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return 0;
    const body = (await res.json()) as { vram_bytes?: unknown };
    return typeof body.vram_bytes === 'number' && Number.isFinite(body.vram_bytes) && body.vram_bytes > 0 ? Math.round(body.vram_bytes) : 0;
  } catch {
    return 0;
  }
}

function nvidiaSmiBytes(): Promise<number> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { timeout: 3_000 }, (err, stdout) => {
      if (err) return resolve(0);
      const mib = stdout
        .split('\n')
        .map((l) => Number.parseFloat(l.trim()))
        .filter((n) => Number.isFinite(n) && n > 0);
      resolve(Math.round(mib.reduce((a, b) => a + b, 0) * 1024 * 1024));
    });
  });
}
