import { execFile } from 'node:child_process';

/**
 * Total GPU memory in bytes: WORKER_GPU_MEMORY_GB when set, else the sum over `nvidia-smi`'s GPUs,
 * else 0 (unknown: the scheduler falls back to its own figure).
 */
export async function discoverGpuMemoryBytes(configuredGb: number | undefined): Promise<number> {
  if (configuredGb !== undefined) return Math.round(configuredGb * 1e9);
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
