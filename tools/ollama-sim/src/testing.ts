import { Gpu, type GpuConfig } from './gpu';
import { SimStats } from './stats';

/** A simulated GPU for tests: 80 GB, 4 slots, time scale 1000 and the simulator's rates, unless overridden. */
export function makeTestGpu(cfg: Partial<GpuConfig> = {}): { gpu: Gpu; stats: SimStats } {
  const full: GpuConfig = {
    index: 0,
    vramBytes: 80e9,
    numParallel: 4,
    maxQueue: 512,
    maxLoaded: 3,
    keepAliveS: 300,
    timeScale: 1000,
    loadBandwidthGBps: 10,
    loadStartupS: 1.5,
    parallelExponent: 0.6,
    fitFraction: 0.8,
    contextLength: 0,
    cpuGenSlowdown: 15,
    cpuPromptSlowdown: 30,
    ...cfg,
  };
  const stats = new SimStats(0, full.timeScale, full.vramBytes);
  return { gpu: new Gpu(full, stats), stats };
}
