import { generateBurstyTrace, prng, TraceEntry } from '../trace';

/**
 * The trace shapes the placement benchmark is judged on. Every shape is a function of its options
 * and seed alone (same seed, same trace). `models` is ranked: the first is the most popular.
 * - steady:     Zipf(1.1) popularity, Poisson arrivals at `rate`, 12 users;
 * - phases:     four equal phases, each with its own popularity ranking (the hot set moves);
 * - cold-burst: steady traffic over all models but one, then 15% of the requests for that cold
 *               model within 10 s, at 40% of the trace;
 * - heavy-user: 20 light users (60% of requests, Zipf), one heavy user (40%) flooding the top model
 *               with 40 requests at a time;
 * - bulk-wave:  steady interactive traffic (75% of requests) and a wave of bulk requests (25%) for
 *               three mid-popularity models within 5 s, at 30% of the trace;
 * - bursty:     the generator this benchmark used before (tuned on seed 42; not in `all`).
 */
export const SHAPES = ['steady', 'phases', 'cold-burst', 'heavy-user', 'bulk-wave'] as const;
export type ShapeName = (typeof SHAPES)[number] | 'bursty';

export interface ShapeOptions {
  models: string[];
  requests: number;
  /** Mean offered rate, requests per simulated second. */
  rate: number;
  seed: number;
  zipf?: number;
}

export function isShape(s: string): s is ShapeName {
  return (SHAPES as readonly string[]).includes(s) || s === 'bursty';
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

interface Gen {
  rnd: () => number;
  exp(rate: number): number;
  zipfPick(ranking: string[], s: number): string;
  entry(t: number, model: string, user: string, priority?: TraceEntry['priority']): TraceEntry;
  shuffle<T>(xs: T[]): T[];
}

function gen(seed: number): Gen {
  const rnd = prng(seed);
  return {
    rnd,
    exp: (rate) => -Math.log(1 - rnd()) / rate,
    zipfPick(ranking, s) {
      const w = ranking.map((_, i) => 1 / Math.pow(i + 1, s));
      let x = rnd() * w.reduce((a, b) => a + b, 0);
      for (let i = 0; i < w.length; i++) {
        x -= w[i];
        if (x <= 0) return ranking[i];
      }
      return ranking[ranking.length - 1];
    },
    entry(t, model, user, priority = 'interactive') {
      return priority === 'bulk'
        ? { t: round3(t), model, prompt_tokens: 200 + Math.floor(rnd() * 800), max_tokens: 64 + Math.floor(rnd() * 192), stream: false, priority, user }
        : { t: round3(t), model, prompt_tokens: 50 + Math.floor(rnd() * 600), max_tokens: 32 + Math.floor(rnd() * 224), stream: rnd() < 0.8, priority, user };
    },
    shuffle(xs) {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    },
  };
}

const users = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

/** `count` Poisson arrivals at `rate` from `t0`, each model from `pickModel(t)` and a user from `pickUser()`. */
function poisson(g: Gen, count: number, rate: number, pickModel: (t: number) => string, pickUser: () => string, t0 = 0): TraceEntry[] {
  const out: TraceEntry[] = [];
  let t = t0;
  for (let i = 0; i < count; i++) {
    t += g.exp(rate);
    out.push(g.entry(t, pickModel(t), pickUser()));
  }
  return out;
}

const byTime = (xs: TraceEntry[]) => xs.sort((a, b) => a.t - b.t);

export function generateShape(shape: ShapeName, o: ShapeOptions): TraceEntry[] {
  const s = o.zipf ?? 1.1;
  const g = gen(o.seed * 7919 + SHAPES.indexOf(shape as (typeof SHAPES)[number]) + 1);
  const pickFrom = (list: string[]) => () => list[Math.floor(g.rnd() * list.length)];
  switch (shape) {
    case 'bursty':
      return generateBurstyTrace({ models: o.models, requests: o.requests, zipf: s, rate: o.rate, seed: o.seed });
    case 'steady':
      return poisson(g, o.requests, o.rate, () => g.zipfPick(o.models, s), pickFrom(users(12)));
    case 'phases': {
      const span = o.requests / o.rate;
      // Phase 0 keeps the catalogue ranking; each later phase draws its own.
      const rankings = [o.models, g.shuffle(o.models), g.shuffle(o.models), g.shuffle(o.models)];
      return poisson(g, o.requests, o.rate, (t) => g.zipfPick(rankings[Math.min(3, Math.floor((t / span) * 4))], s), pickFrom(users(12)));
    }
    case 'cold-burst': {
      const cold = o.models[o.models.length - 1];
      const warm = o.models.slice(0, -1);
      const burst = Math.round(o.requests * 0.15);
      const background = poisson(g, o.requests - burst, o.rate * ((o.requests - burst) / o.requests), () => g.zipfPick(warm, s), pickFrom(users(12)));
      const at = background[Math.floor(background.length * 0.4)]?.t ?? 0;
      const burstUsers = users(6, 'b');
      const wave = Array.from({ length: burst }, () => g.entry(at + g.rnd() * 10, cold, burstUsers[Math.floor(g.rnd() * burstUsers.length)]));
      return byTime([...background, ...wave]);
    }
    case 'heavy-user': {
      const heavyCount = Math.round(o.requests * 0.4);
      const lightCount = o.requests - heavyCount;
      const light = poisson(g, lightCount, o.rate * (lightCount / o.requests), () => g.zipfPick(o.models, s), pickFrom(users(20)));
      const span = light[light.length - 1]?.t ?? 1;
      const floods = Math.max(1, Math.ceil(heavyCount / 40));
      const heavy: TraceEntry[] = [];
      for (let f = 0; f < floods; f++) {
        const at = span * ((f + 0.2 + g.rnd() * 0.6) / floods);
        for (let k = 0; k < 40 && heavy.length < heavyCount; k++) heavy.push(g.entry(at + g.rnd() * 2, o.models[0], 'heavy'));
      }
      return byTime([...light, ...heavy]);
    }
    case 'bulk-wave': {
      const bulkCount = Math.round(o.requests * 0.25);
      const interactive = poisson(g, o.requests - bulkCount, o.rate * ((o.requests - bulkCount) / o.requests), () => g.zipfPick(o.models, s), pickFrom(users(12)));
      const at = interactive[Math.floor(interactive.length * 0.3)]?.t ?? 0;
      const bulkModels = o.models.slice(Math.min(3, o.models.length - 1), Math.min(6, o.models.length));
      const wave = Array.from({ length: bulkCount }, (_, i) => g.entry(at + g.rnd() * 5, bulkModels[i % bulkModels.length], 'bulk', 'bulk'));
      return byTime([...interactive, ...wave]);
    }
  }
}
