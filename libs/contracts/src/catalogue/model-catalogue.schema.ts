import { z } from 'zod';
import { poolSchema } from '../jobs/inference-job.schema';

/**
 * The model catalogue (deploy/models.yaml): which models Switchyard serves, each one's fixed
 * context window, pool and pinned replicas. Sizes let the scheduler check memory fit before the
 * first load (a worker's measured figures replace them once known).
 */
export const DEFAULT_CONTEXT_WINDOW = 8192;

export const catalogueModelSchema = z.object({
  name: z.string().min(1),
  /** Fixed num_ctx; never set by clients. */
  context_window: z.number().int().positive().optional(),
  pool: poolSchema.optional(),
  /** Workers that always keep this model resident. */
  pinned: z.number().int().nonnegative().default(0),
  /** Weights size in GB (Q4 GGUF); used for memory fit until a worker reports the real size. */
  size_gb: z.number().positive(),
  kind: z.enum(['chat', 'embedding']).default('chat'),
  /** f16 KV cache per token of context, KiB (2 × layers × kv_heads × head_dim × 2 bytes); estimated from size when absent. */
  kv_kib_per_token: z.number().positive().optional(),
  /** Largest max_tokens a request may ask for (defaults to the context window). */
  max_output_tokens: z.number().int().positive().optional(),
  owned_by: z.string().default('switchyard'),
});

export const modelCatalogueSchema = z.object({
  defaults: z
    .object({
      context_window: z.number().int().positive().default(DEFAULT_CONTEXT_WINDOW),
      pool: poolSchema.default('shared'),
    })
    .default({ context_window: DEFAULT_CONTEXT_WINDOW, pool: 'shared' }),
  models: z.array(catalogueModelSchema).min(1),
});

export type ModelCatalogueFile = z.infer<typeof modelCatalogueSchema>;

/** A catalogue entry with every default applied. */
export interface CatalogueModel {
  name: string;
  contextWindow: number;
  pool: z.infer<typeof poolSchema>;
  pinned: number;
  sizeBytes: number;
  kind: 'chat' | 'embedding';
  /** KV cache bytes per token of context, when the catalogue knows it. */
  kvBytesPerToken?: number;
  maxOutputTokens: number;
  ownedBy: string;
}

export function resolveCatalogue(file: ModelCatalogueFile): CatalogueModel[] {
  const seen = new Set<string>();
  return file.models.map((m) => {
    if (seen.has(m.name)) throw new Error(`model catalogue lists ${m.name} twice`);
    seen.add(m.name);
    const contextWindow = m.context_window ?? file.defaults.context_window;
    return {
      name: m.name,
      contextWindow,
      pool: m.pool ?? file.defaults.pool,
      pinned: m.pinned,
      sizeBytes: Math.round(m.size_gb * 1e9),
      kind: m.kind,
      ...(m.kv_kib_per_token ? { kvBytesPerToken: Math.round(m.kv_kib_per_token * 1024) } : {}),
      maxOutputTokens: m.max_output_tokens ?? contextWindow,
      ownedBy: m.owned_by,
    };
  });
}
