/**
 * CPU offload, measured: a model larger than the GPU loads anyway (alone), the layers that do not
 * fit run on the CPU, and its streams run at `offloadedRate`. The printout (test diagnostics) is the
 * figure behind each catalogue entry's `offload` choice: tokens/s served offloaded, against refusal.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveEntry, SimModel } from './catalogue';
import { Gpu, offloadedRate } from './gpu';
import { makeTestGpu } from './testing';

const GB = 1e9;
const SCALE = 200;

function makeGpu(vramGb: number): Gpu {
  return makeTestGpu({ vramBytes: vramGb * GB, timeScale: SCALE }).gpu;
}

// As in models.default.yaml and deploy/models.yaml.
const LLAMA_70B = resolveEntry({ name: 'llama3.1:70b', size_gb: 40, context_length: 131072, family: 'llama', parameter_size: '70.6B', kv_kib_per_token: 320 });
const LLAMA33_70B = resolveEntry({ name: 'llama3.3:70b', size_gb: 43, context_length: 131072, family: 'llama', parameter_size: '70.6B', kv_kib_per_token: 320 });
const QWEN_72B = resolveEntry({ name: 'qwen2.5:72b', size_gb: 47, context_length: 32768, family: 'qwen2', parameter_size: '72.7B', kv_kib_per_token: 320 });
const MISTRAL_123B = resolveEntry({ name: 'mistral-large:123b', size_gb: 73, context_length: 131072, family: 'llama', parameter_size: '122.6B', kv_kib_per_token: 352 });

/** One stream's measured generation and prompt rates (simulated tokens/s), and the runner's GPU share. */
async function measure(gpu: Gpu, model: SimModel, numCtx: number): Promise<{ gen: number; prompt: number; gpuFraction: number }> {
  const lease = await gpu.acquire(model, numCtx, 300);
  const t = await lease.compute({ promptTokens: 200, genTokens: 40 });
  lease.release();
  const info = gpu.runnerInfos().find((r) => r.model.name === model.name);
  return {
    gen: 40 / (((t.endAt - t.promptEndAt) * SCALE) / 1000),
    prompt: 200 / (((t.promptEndAt - t.slotAt) * SCALE) / 1000),
    gpuFraction: info?.gpuFraction ?? 1,
  };
}

describe('CPU offload', () => {
  test('the rate formula: all on the GPU is the GPU rate, all on the CPU the GPU rate ÷ slowdown, and between the harmonic mix', () => {
    assert.equal(offloadedRate(24, 1, 15), 24);
    assert.equal(offloadedRate(24, 0, 15), 24 / 15);
    assert.ok(Math.abs(offloadedRate(24, 0.5, 15) - 1 / (0.5 / 24 + 0.5 / 1.6)) < 1e-9);
  });

  test('a model that fits runs at its GPU rate; one larger than the GPU runs at the offloaded rate, measured', async (t) => {
    const rows: string[] = [];
    for (const [model, numCtx] of [
      [LLAMA_70B, 8192],
      [LLAMA33_70B, 8192],
      [QWEN_72B, 8192],
      [MISTRAL_123B, 4096],
    ] as const) {
      for (const vram of [80, 40]) {
        const gpu = makeGpu(vram);
        const m = await measure(gpu, model, numCtx);
        gpu.close();
        const need = model.sizeBytes + numCtx * 4 * model.kvBytesPerToken;
        const expectedFraction = Math.min(1, (vram * GB) / need);
        assert.ok(Math.abs(m.gpuFraction - expectedFraction) < 1e-9);
        const gen = offloadedRate(model.genTokensPerS, expectedFraction, 15);
        assert.ok(Math.abs(m.gen - gen) / gen < 0.03, `${model.name} on ${vram} GB: ${m.gen.toFixed(2)} tok/s, expected ${gen.toFixed(2)}`);
        if (expectedFraction === 1) assert.ok(Math.abs(m.gen - model.genTokensPerS) / model.genTokensPerS < 0.03);
        const answerS = 256 / m.gen;
        rows.push(
          `${model.name.padEnd(20)} ${String(vram).padStart(3)} GB  need ${(need / GB).toFixed(1).padStart(5)} GB  on GPU ${(m.gpuFraction * 100).toFixed(0).padStart(3)}%  ` +
            `gen ${m.gen.toFixed(1).padStart(5)} tok/s (${(model.genTokensPerS / m.gen).toFixed(1)}x slower)  prompt ${m.prompt.toFixed(0).padStart(4)} tok/s  256-token answer ${answerS.toFixed(0)} s`,
        );
      }
    }
    for (const r of rows) t.diagnostic(r);
  });

  test('offloaded, it still shares its runner among slots like any model', async () => {
    const gpu = makeGpu(40);
    const leases = await Promise.all([0, 1, 2, 3].map(() => gpu.acquire(LLAMA_70B, 8192, 300)));
    const times = await Promise.all(leases.map((l) => l.compute({ promptTokens: 0, genTokens: 20 })));
    leases.forEach((l) => l.release());
    gpu.close();
    const one = offloadedRate(LLAMA_70B.genTokensPerS, (40 * GB) / (LLAMA_70B.sizeBytes + 8192 * 4 * LLAMA_70B.kvBytesPerToken), 15);
    const aggregate = (4 * 20) / Math.max(...times.map((x) => ((x.endAt - x.slotAt) * SCALE) / 1000));
    assert.ok(Math.abs(aggregate - one * 4 ** 0.6) / (one * 4 ** 0.6) < 0.1, `aggregate ${aggregate.toFixed(2)} tok/s`);
  });
});
