/**
 * Memory and switch-cost estimates used before a worker has measured the real figures.
 *
 * Memory of a loaded model = weights × (1 + RUNTIME_OVERHEAD) + KV cache, where the KV cache holds
 * `num_ctx × slots` tokens (Ollama allocates the whole context for each parallel slot up front).
 *
 * KV bytes per token, f16, are 2 (K and V) × layers × kv_heads × head_dim × 2 bytes: 128 KiB for
 * llama3.1:8b (4.9 GB of Q4 weights), 320 KiB for llama3.1:70b (40 GB), 36 KiB for
 * nomic-embed-text (0.27 GB). Across grouped-query-attention models it grows roughly with the
 * square root of the weights, so we estimate
 *
 *     kvBytesPerToken = 128 KiB × sqrt(weightsGB / 4.9)
 *
 * (8B: 128 KiB, 70B: 365 KiB, 123B: 494 KiB, nomic: 30 KiB — on the safe side for large models).
 * Older models without GQA (codellama:13b, llava:13b: 800 KiB) are underestimated; as soon as any
 * worker has loaded a model, its reported size (Ollama's /api/ps `size`, which includes the KV
 * cache) replaces the estimate everywhere.
 *
 * Load time = weights / bandwidth + start-up (10 GB/s and 1.5 s by default), until the worker has
 * measured it.
 */
import type { CatalogueModel } from '@switchyard/contracts';
import type { PlacementModel, WorkerSnapshot } from './cluster-state';

export const KV_KIB_PER_TOKEN_AT_8B = 128;
export const REFERENCE_WEIGHTS_GB = 4.9;
/** Compute buffers and the like, as a share of the weights. */
export const RUNTIME_OVERHEAD = 0.05;
/**
 * Ollama's fit rule (llm/server.go, reference/ollama.md): with other models loaded, a new one is
 * loaded only if its predicted memory is at most 80% of the GPU's free memory; otherwise Ollama
 * evicts an idle model of its own choosing (the shortest keep-alive, not ours).
 */
export const OLLAMA_FIT_FRACTION = 0.8;
/** Ollama's default OLLAMA_MAX_LOADED_MODELS: the cap for a worker that does not report its memory. */
export const UNKNOWN_MEMORY_MAX_MODELS = 3;

export interface CostModelOptions {
  loadBandwidthBytesPerSec: number;
  loadOverheadSeconds: number;
}

export const DEFAULT_COST_MODEL: CostModelOptions = { loadBandwidthBytesPerSec: 10e9, loadOverheadSeconds: 1.5 };

export function estimateKvBytesPerToken(weightsBytes: number): number {
  return KV_KIB_PER_TOKEN_AT_8B * 1024 * Math.sqrt(weightsBytes / 1e9 / REFERENCE_WEIGHTS_GB);
}

export function estimateFootprintBytes(model: Pick<CatalogueModel, 'sizeBytes' | 'contextWindow' | 'kvBytesPerToken'>, slots: number): number {
  const kv = (model.kvBytesPerToken ?? estimateKvBytesPerToken(model.sizeBytes)) * model.contextWindow * Math.max(1, slots);
  return Math.round(model.sizeBytes * (1 + RUNTIME_OVERHEAD) + kv);
}

export function estimateLoadSeconds(model: Pick<CatalogueModel, 'sizeBytes'>, opts: CostModelOptions = DEFAULT_COST_MODEL): number {
  return model.sizeBytes / opts.loadBandwidthBytesPerSec + opts.loadOverheadSeconds;
}

/**
 * Cluster-wide knowledge per model: the largest size any worker reported, and the measured load
 * times, so one worker's measurement improves every other worker's estimate.
 */
export class ModelFacts {
  private readonly reportedSize = new Map<string, number>();
  private readonly measuredLoad = new Map<string, number[]>();
  private readonly catalogue: Map<string, PlacementModel>;

  constructor(
    catalogue: readonly PlacementModel[],
    workers: readonly WorkerSnapshot[],
    private readonly opts: CostModelOptions = DEFAULT_COST_MODEL,
  ) {
    this.catalogue = new Map(catalogue.map((m) => [m.name, m]));
    for (const w of workers) {
      for (const r of w.resident) {
        if (r.sizeBytes > 0) this.reportedSize.set(r.model, Math.max(r.sizeBytes, this.reportedSize.get(r.model) ?? 0));
      }
      for (const [model, s] of Object.entries(w.loadSeconds)) {
        if (s > 0) this.measuredLoad.set(model, [...(this.measuredLoad.get(model) ?? []), s]);
      }
    }
  }

  model(name: string): PlacementModel | undefined {
    return this.catalogue.get(name);
  }

  /** Bytes the model takes on this worker: its own report, else another worker's, else the estimate. */
  footprint(model: string, worker: WorkerSnapshot): number {
    const own = worker.resident.find((r) => r.model === model);
    if (own && own.sizeBytes > 0) return own.sizeBytes;
    const reported = this.reportedSize.get(model);
    if (reported) return reported;
    const m = this.catalogue.get(model);
    return m ? estimateFootprintBytes(m, worker.slots) : 0;
  }

  /** Seconds to load the model on this worker: measured there, else the mean measured elsewhere, else estimated. */
  loadSeconds(model: string, worker?: WorkerSnapshot): number {
    const own = worker?.loadSeconds[model];
    if (own && own > 0) return own;
    const elsewhere = this.measuredLoad.get(model);
    if (elsewhere && elsewhere.length > 0) return elsewhere.reduce((a, b) => a + b, 0) / elsewhere.length;
    const m = this.catalogue.get(model);
    return m ? estimateLoadSeconds(m, this.opts) : this.opts.loadOverheadSeconds;
  }
}
