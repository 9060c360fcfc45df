import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { loadModelCatalogue } from '@switchyard/config';
import type { CatalogueModel, ModelCatalogueFile } from '@switchyard/contracts';
// The simulator's own reader of its catalogue (rates and sizes as it runs them), not a copy.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { defaultCatalogue, normaliseModelName, SimModel } from '../../../ollama-sim/src/catalogue';
import { ModelSpeed } from './bounds';

const ROOT = path.resolve(__dirname, '../../../..');
export const SWITCHYARD_CATALOGUE = path.join(ROOT, 'deploy/models.yaml');

/** The simulator's defaults the benchmark relies on (tools/ollama-sim/src/config.ts). */
export const SIM_PARALLEL_EXPONENT = 0.6;
/** How the simulator's GPUs share compute between their models (its `--compute-sharing`). */
// eslint-disable-next-line @nx/enforce-module-boundaries
export { COMPUTE_SHARING, type ComputeSharing, DEFAULT_COMPUTE_SHARING } from '../../../ollama-sim/src/gpu';

/**
 * The models as Switchyard's catalogue lists them (read through libs/config) and as the simulator
 * runs them (its catalogue reader): context window, memory footprint, speeds.
 */
export class BenchCatalogue {
  readonly models: CatalogueModel[];
  private readonly sim: Map<string, SimModel>;

  constructor(
    readonly numParallel: number,
    private readonly file = SWITCHYARD_CATALOGUE,
  ) {
    this.models = loadModelCatalogue(file);
    this.sim = new Map(defaultCatalogue().map((m) => [m.name, m]));
  }

  simModel(name: string): SimModel | undefined {
    return this.sim.get(normaliseModelName(name));
  }

  numCtx = (model: string): number => this.models.find((m) => m.name === model)?.contextWindow ?? 8192;

  /** Memory a model needs when loaded: weights + KV cache for the fixed num_ctx × parallel slots. */
  footprintBytes(model: string): number {
    const s = this.simModel(model);
    if (!s) return Infinity;
    return s.sizeBytes + this.numCtx(model) * this.numParallel * s.kvBytesPerToken;
  }

  speedOf = (model: string): ModelSpeed => {
    const s = this.simModel(model);
    return { genTokensPerS: s?.genTokensPerS ?? 1, promptTokensPerS: s?.promptTokensPerS ?? 1 };
  };

  /**
   * Chat models that fit one GPU, the portal's llama3.1:8b first (most popular), then the rest in
   * a fixed shuffled order so popularity does not follow size.
   */
  pickModels(count: number, vramGb: number): string[] {
    const fits = this.models.filter((m) => m.kind === 'chat' && this.simModel(m.name) && this.footprintBytes(m.name) <= vramGb * 1e9 * 0.95).map((m) => m.name);
    const head = fits.filter((m) => m === 'llama3.1:8b');
    const rest = fits.filter((m) => m !== 'llama3.1:8b').sort((a, b) => hash(a) - hash(b));
    return [...head, ...rest].slice(0, count);
  }

  /**
   * The catalogue file as deployed, every field kept, with no pinned replicas (see systems.ts:
   * every system starts cold); checked by libs/config's reader like the file itself.
   */
  unpinnedFile(): ModelCatalogueFile {
    const raw = YAML.parse(readFileSync(this.file, 'utf8')) as ModelCatalogueFile;
    return { ...raw, models: raw.models.map((m) => ({ ...m, pinned: 0 })) };
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}
