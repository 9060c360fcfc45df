/**
 * The simulator's model catalogue: what each simulated Ollama has "pulled". Loaded from YAML or
 * JSON (zod-validated), with every default applied. Other tools (bench, edge) may read the same
 * file, `tools/ollama-sim/models.default.yaml`, through `loadCatalogue`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';

export const DEFAULT_CATALOGUE_PATH = path.resolve(__dirname, '..', 'models.default.yaml');

export const CAPABILITIES = ['completion', 'tools', 'insert', 'vision', 'embedding', 'thinking'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export const catalogueEntrySchema = z.object({
  name: z.string().min(1),
  size_gb: z.number().positive(),
  context_length: z.number().int().positive(),
  family: z.string().min(1),
  parameter_size: z.string().min(1),
  quantization_level: z.string().min(1).optional(),
  embedding_length: z.number().int().positive().optional(),
  capabilities: z.array(z.enum(CAPABILITIES)).min(1).optional(),
  gen_tokens_per_s: z.number().positive().optional(),
  prompt_tokens_per_s: z.number().positive().optional(),
  kv_kib_per_token: z.number().positive().optional(),
});
export type CatalogueEntry = z.infer<typeof catalogueEntrySchema>;

/** A top-level list, or `{ models: [...] }`. */
export const catalogueFileSchema = z.preprocess(
  (raw) => (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'models' in raw ? raw.models : raw),
  z.array(catalogueEntrySchema).min(1),
);

/** A catalogue entry with every default applied. */
export interface SimModel {
  /** Normalised name, always with a tag (`nomic-embed-text:latest`). */
  name: string;
  sizeBytes: number;
  sizeGb: number;
  contextLength: number;
  family: string;
  parameterSize: string;
  quantizationLevel: string;
  embeddingLength: number;
  capabilities: Capability[];
  /** One stream, tokens per simulated second. */
  genTokensPerS: number;
  /** One stream, prompt tokens per simulated second. */
  promptTokensPerS: number;
  /** KV cache bytes per token of context per slot. */
  kvBytesPerToken: number;
  /** sha256 hex, stable per name. */
  digest: string;
}

/** `llama3.1` → `llama3.1:latest`; a name with a tag is kept. */
export function normaliseModelName(name: string): string {
  const slash = name.lastIndexOf('/');
  return name.indexOf(':', slash + 1) >= 0 ? name : `${name}:latest`;
}

// Reported one-stream figures (reference/ollama.md), interpolated in log-log space by size.
const GEN_ANCHORS: ReadonlyArray<readonly [number, number]> = [
  [4.9, 140],
  [7.4, 75],
  [12.6, 50],
  [40, 24],
  [73, 14],
];
const PROMPT_ANCHORS: ReadonlyArray<readonly [number, number]> = [
  [4.7, 4900],
  [40, 850],
];

function logLogInterpolate(anchors: ReadonlyArray<readonly [number, number]>, size: number): number {
  const first = anchors[0];
  const last = anchors[anchors.length - 1];
  // Outside the anchors, extend the straight line through the first and last anchor.
  const slope = Math.log(last[1] / first[1]) / Math.log(last[0] / first[0]);
  if (size <= first[0]) return first[1] * (size / first[0]) ** slope;
  if (size >= last[0]) return last[1] * (size / last[0]) ** slope;
  for (let i = 1; i < anchors.length; i++) {
    const [s1, r1] = anchors[i - 1];
    const [s2, r2] = anchors[i];
    if (size <= s2) {
      const k = Math.log(r2 / r1) / Math.log(s2 / s1);
      return r1 * (size / s1) ** k;
    }
  }
  return last[1];
}

/** Default one-stream generation rate for a model of this size (GB), tokens/s. */
export function defaultGenTokensPerS(sizeGb: number): number {
  return logLogInterpolate(GEN_ANCHORS, sizeGb);
}

/** Default one-stream prompt processing rate for a model of this size (GB), tokens/s. */
export function defaultPromptTokensPerS(sizeGb: number): number {
  return logLogInterpolate(PROMPT_ANCHORS, sizeGb);
}

/** Default f16 KV cache per token, KiB: 128 KiB at 8B (4.9 GB), growing slowly with size (GQA). */
export function defaultKvKibPerToken(sizeGb: number): number {
  return 128 * (sizeGb / 4.9) ** 0.35;
}

export function resolveEntry(e: CatalogueEntry): SimModel {
  const name = normaliseModelName(e.name);
  return {
    name,
    sizeBytes: Math.round(e.size_gb * 1e9),
    sizeGb: e.size_gb,
    contextLength: e.context_length,
    family: e.family,
    parameterSize: e.parameter_size,
    quantizationLevel: e.quantization_level ?? 'Q4_K_M',
    embeddingLength: e.embedding_length ?? 4096,
    capabilities: e.capabilities ?? ['completion'],
    genTokensPerS: e.gen_tokens_per_s ?? defaultGenTokensPerS(e.size_gb),
    promptTokensPerS: e.prompt_tokens_per_s ?? defaultPromptTokensPerS(e.size_gb),
    kvBytesPerToken: Math.round((e.kv_kib_per_token ?? defaultKvKibPerToken(e.size_gb)) * 1024),
    digest: createHash('sha256').update(name).digest('hex'),
  };
}

/** Parses catalogue text (YAML is a superset of JSON), failing with every problem listed. */
export function parseCatalogue(text: string, source = 'catalogue'): SimModel[] {
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new Error(`invalid model catalogue ${source}: ${(err as Error).message}`);
  }
  const parsed = catalogueFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`invalid model catalogue ${source}: ${problems}`);
  }
  const models = parsed.data.map(resolveEntry);
  const seen = new Set<string>();
  for (const m of models) {
    if (seen.has(m.name)) throw new Error(`invalid model catalogue ${source}: ${m.name} is listed twice`);
    seen.add(m.name);
  }
  return models;
}

/** Reads a catalogue file (YAML or JSON). */
export function loadCatalogue(file: string): SimModel[] {
  return parseCatalogue(readFileSync(file, 'utf8'), file);
}

/** The default catalogue (`tools/ollama-sim/models.default.yaml`). */
export function defaultCatalogue(): SimModel[] {
  return loadCatalogue(DEFAULT_CATALOGUE_PATH);
}

/** Looks models up by the name a client sends (`llama3.1:8b`, `nomic-embed-text`). */
export class Catalogue {
  private readonly byName: Map<string, SimModel>;

  constructor(readonly models: readonly SimModel[]) {
    this.byName = new Map(models.map((m) => [m.name, m]));
  }

  find(name: string): SimModel | undefined {
    return this.byName.get(normaliseModelName(name));
  }
}
