import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

/** One request of a trace (JSONL, one a line). `t` is seconds from the start, in simulated time. */
export const traceEntrySchema = z.object({
  t: z.number().nonnegative(),
  model: z.string().min(1),
  prompt_tokens: z.number().int().positive(),
  max_tokens: z.number().int().positive(),
  stream: z.boolean(),
  priority: z.enum(['interactive', 'bulk']),
  /** Who sent it (one API key each in Switchyard); traces without it are one user's. */
  user: z.string().min(1).default('u0'),
});
export type TraceEntry = z.infer<typeof traceEntrySchema>;
/** A trace entry as written by hand or by older versions (no user). */
export type TraceEntryInput = z.input<typeof traceEntrySchema>;

export function readTrace(file: string): TraceEntry[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      const r = traceEntrySchema.safeParse(JSON.parse(l));
      if (!r.success) throw new Error(`${file}:${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.')} ${x.message}`).join('; ')}`);
      return r.data;
    })
    .sort((a, b) => a.t - b.t);
}

export function writeTrace(file: string, trace: TraceEntry[]): void {
  writeFileSync(file, trace.map((e) => JSON.stringify(e)).join('\n') + '\n');
}

/** mulberry32: a small seeded PRNG, so a seed always gives the same trace. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TraceOptions {
  models: string[];
  requests: number;
  /** Zipf exponent of model popularity (rank 1 most popular). */
  zipf: number;
  /** Mean arrival rate, requests per simulated second. */
  rate: number;
  seed: number;
  /** Share of requests sent in one bulk wave (priority bulk) halfway through. */
  bulkShare?: number;
}

/**
 * The generated default: Zipf popularity over `models` (the first is the most popular), Poisson
 * arrivals with bursts (every so often the rate triples for a while), and one bulk wave: a batch of
 * bulk-priority requests for a few mid-popularity models arriving together halfway through.
 */
export function generateBurstyTrace(o: TraceOptions): TraceEntry[] {
  const rnd = prng(o.seed);
  const weights = o.models.map((_, i) => 1 / Math.pow(i + 1, o.zipf));
  const total = weights.reduce((a, b) => a + b, 0);
  const pick = () => {
    let x = rnd() * total;
    for (let i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x <= 0) return o.models[i];
    }
    return o.models[o.models.length - 1];
  };
  const exp = (rate: number) => -Math.log(1 - rnd()) / rate;
  const bulkCount = Math.round(o.requests * (o.bulkShare ?? 0.1));
  const interactiveCount = o.requests - bulkCount;
  const out: TraceEntry[] = [];
  let t = 0;
  for (let i = 0; i < interactiveCount; i++) {
    // Bursts: during 20% of each 60 s period the rate is 3x.
    const inBurst = t % 60 < 12;
    t += exp(inBurst ? o.rate * 3 : o.rate * 0.5);
    out.push({
      t: round3(t),
      model: pick(),
      prompt_tokens: 50 + Math.floor(rnd() * 600),
      max_tokens: 32 + Math.floor(rnd() * 224),
      stream: rnd() < 0.8,
      priority: 'interactive',
      user: 'u0',
    });
  }
  const mid = t / 2;
  const bulkModels = o.models.slice(Math.min(3, o.models.length - 1), Math.min(6, o.models.length));
  for (let i = 0; i < bulkCount; i++) {
    out.push({
      t: round3(mid + rnd() * 2),
      model: bulkModels[i % bulkModels.length],
      prompt_tokens: 200 + Math.floor(rnd() * 800),
      max_tokens: 64 + Math.floor(rnd() * 192),
      stream: false,
      priority: 'bulk',
      user: 'bulk',
    });
  }
  return out.sort((a, b) => a.t - b.t);
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
