/**
 * Deterministic "model output": a seeded PRNG over a word list. The same simulator seed, model,
 * input and options.seed always give the same text, tool call or embedding.
 *
 * Token counting (documented in the README): a word is max(1, ceil(chars / 4)) tokens; a chat
 * message adds 4 tokens of template, a prompt 5 (1 when `raw`), an image 576. Generated text is
 * produced one token at a time, so `eval_count` is exactly the number of pieces generated.
 */
import { createHash } from 'node:crypto';

const WORDS = (
  'the a of to and in that is for it as with on by this be are from at or an which can not have ' +
  'model data system request server memory token queue load time value result first each more when ' +
  'will one all would there their what about out up into only other some could than then them these ' +
  'two may like over such make through where after most also between both under while should well ' +
  'because does each just those people very long many before must through back years much work ' +
  'same any new large small simple fast slow cache layer batch stream answer question reason example ' +
  'number order place point state group part case world fact area line level word note rate sample ' +
  'context window engine signal vector matrix graph route policy metric budget report'
).split(' ');

/** sfc32 PRNG: small, fast, good enough, seeded from a hash. */
export type Rng = () => number;

export function rngFrom(key: string): Rng {
  const h = createHash('sha256').update(key).digest();
  let a = h.readUInt32LE(0);
  let b = h.readUInt32LE(4);
  let c = h.readUInt32LE(8);
  let d = h.readUInt32LE(12);
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** A stable key for the PRNG from everything that determines the output. */
export function seedKey(parts: unknown[]): string {
  return JSON.stringify(parts);
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

/** Estimated tokens of a text: each whitespace-separated word is max(1, ceil(chars / 4)). */
export function countTokens(text: string | undefined): number {
  if (!text) return 0;
  let n = 0;
  let word = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // ASCII whitespace and the common Unicode spaces end a word.
    if (c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0x3000) {
      if (word > 0) n += Math.ceil(word / 4);
      word = 0;
    } else {
      word++;
    }
  }
  if (word > 0) n += Math.ceil(word / 4);
  return n;
}

export const MESSAGE_TEMPLATE_TOKENS = 4;
export const PROMPT_TEMPLATE_TOKENS = 5;
export const IMAGE_TOKENS = 576;

/** Natural reply length when num_predict is unset: 20–120 tokens, from the seed. */
export function naturalLength(rng: Rng): number {
  return int(rng, 20, 120);
}

/** Prose tokens: " word" pieces in sentences of 5–14 words. */
function proseTokens(rng: Rng, n: number): string[] {
  const out: string[] = [];
  let left = 0;
  for (let i = 0; i < n; i++) {
    let w = pick(rng, WORDS);
    const startsSentence = left === 0;
    if (startsSentence) {
      left = int(rng, 5, 14);
      w = w[0].toUpperCase() + w.slice(1);
    }
    left--;
    if (left === 0 || i === n - 1) w += '.';
    out.push(i === 0 ? w : ` ${w}`);
  }
  return out;
}

/** Splits text into token-like pieces (a word with its leading space, a number, a punctuation mark). */
export function tokenise(text: string): string[] {
  return text.match(/\s*[A-Za-z]{1,8}|\s*\d{1,3}|\s*[^A-Za-z\d\s]|\s+$/g) ?? [];
}

export type DoneReason = 'stop' | 'length';

/** What the runner will produce for one request, token by token. */
export interface OutputPlan {
  /** Text released to the client when token i is generated ('' while a possible stop is held back). */
  pieces: string[];
  /** The whole returned text (stop sequences cut off). */
  text: string;
  evalCount: number;
  doneReason: DoneReason;
}

/**
 * Applies num_predict and stop sequences to the tokens a model "wants" to generate. Text that could
 * be the start of a stop sequence is held back, as Ollama does, and dropped when the stop matches.
 */
export function planOutput(tokens: readonly string[], numPredict: number | undefined, stop: readonly string[]): OutputPlan {
  const limit = numPredict !== undefined && numPredict > 0 ? numPredict : Infinity;
  const n = Math.min(tokens.length, limit);
  const stops = stop.filter((s) => s.length > 0);
  const pieces: string[] = [];
  // Text generated but not released yet. Because a possible start of a stop sequence is always
  // held back, a stop sequence can only begin inside it, so it stays short.
  let pending = '';
  for (let i = 0; i < n; i++) {
    pending += tokens[i];
    let at = -1;
    for (const s of stops) {
      const found = pending.indexOf(s);
      if (found >= 0 && (at < 0 || found < at)) at = found;
    }
    if (at >= 0) {
      pieces.push(pending.slice(0, at));
      return { pieces, text: pieces.join(''), evalCount: i + 1, doneReason: 'stop' };
    }
    let held = 0;
    for (const s of stops) {
      for (let k = Math.min(s.length - 1, pending.length); k > held; k--) {
        if (pending.endsWith(s.slice(0, k))) {
          held = k;
          break;
        }
      }
    }
    const safe = i === n - 1 ? pending.length : pending.length - held;
    pieces.push(pending.slice(0, safe));
    pending = pending.slice(safe);
  }
  return { pieces, text: pieces.join(''), evalCount: n, doneReason: n === limit ? 'length' : 'stop' };
}

/** Plain text: `count` tokens when num_predict asks for them, else a natural length of 20–120. */
export function proseFor(rng: Rng, count?: number): string[] {
  const natural = naturalLength(rng);
  return proseTokens(rng, count !== undefined && count > 0 ? count : natural);
}

type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function words(rng: Rng, lo: number, hi: number): string {
  return Array.from({ length: int(rng, lo, hi) }, () => pick(rng, WORDS)).join(' ');
}

/** A value that satisfies the simple parts of a JSON schema (type, properties, items, enum, const). */
export function valueForSchema(rng: Rng, schema: unknown, depth = 0): JsonValue {
  if (!isRecord(schema)) return words(rng, 1, 4);
  if ('const' in schema) return schema.const as JsonValue;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0] as JsonValue;
  for (const key of ['anyOf', 'oneOf', 'allOf']) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return valueForSchema(rng, options[0], depth);
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => t !== 'null') ?? 'null';
  if (type === undefined) type = isRecord(schema.properties) ? 'object' : 'string';
  switch (type) {
    case 'object': {
      const out: Record<string, JsonValue> = {};
      if (isRecord(schema.properties) && depth < 6) {
        for (const [k, sub] of Object.entries(schema.properties)) out[k] = valueForSchema(rng, sub, depth + 1);
      }
      return out;
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 1;
      const count = Math.max(min, Math.min(3, int(rng, 1, 3)));
      return depth < 6 ? Array.from({ length: count }, () => valueForSchema(rng, schema.items, depth + 1)) : [];
    }
    case 'integer': {
      const lo = typeof schema.minimum === 'number' ? Math.ceil(schema.minimum) : 0;
      const hi = typeof schema.maximum === 'number' ? Math.floor(schema.maximum) : lo + 100;
      return int(rng, lo, Math.max(lo, hi));
    }
    case 'number': {
      const lo = typeof schema.minimum === 'number' ? schema.minimum : 0;
      const hi = typeof schema.maximum === 'number' ? schema.maximum : lo + 100;
      return Math.round((lo + rng() * (hi - lo)) * 100) / 100;
    }
    case 'boolean':
      return rng() < 0.5;
    case 'null':
      return null;
    default:
      return words(rng, 1, 5);
  }
}

/** `format: "json"` or a JSON schema → tokens of a valid JSON document. */
export function jsonTokensFor(rng: Rng, format: unknown): string[] {
  let value: JsonValue;
  if (isRecord(format)) {
    value = valueForSchema(rng, format);
  } else {
    const obj: Record<string, JsonValue> = {};
    const keys = int(rng, 2, 4);
    for (let i = 0; i < keys; i++) obj[pick(rng, WORDS) + (i > 0 ? `_${i}` : '')] = i % 2 === 0 ? words(rng, 2, 8) : int(rng, 0, 1000);
    value = obj;
  }
  return tokenise(JSON.stringify(value));
}

/** A tool definition as Ollama and OpenAI accept it. */
export interface ToolDefinition {
  type?: string;
  function?: { name?: string; description?: string; parameters?: unknown };
}

export interface NativeToolCall {
  function: { name: string; arguments: Record<string, JsonValue> };
}

/** Calls the first tool, with arguments that fit its parameter schema. */
export function toolCallFor(rng: Rng, tools: readonly ToolDefinition[]): NativeToolCall | undefined {
  const fn = tools[0]?.function;
  if (!fn?.name) return undefined;
  const args = valueForSchema(rng, isRecord(fn.parameters) ? { ...fn.parameters, type: 'object' } : { type: 'object' });
  return { function: { name: fn.name, arguments: isRecord(args) ? (args as Record<string, JsonValue>) : {} } };
}

/** A unit-length embedding of `dim` numbers for this text. */
export function embeddingFor(key: string, dim: number): number[] {
  const rng = rngFrom(key);
  const v: number[] = [];
  for (let i = 0; i < dim; i += 2) {
    // Box-Muller: two normal numbers per step.
    const u = Math.max(rng(), 1e-12);
    const r = Math.sqrt(-2 * Math.log(u));
    const t = 2 * Math.PI * rng();
    v.push(r * Math.cos(t));
    if (i + 1 < dim) v.push(r * Math.sin(t));
  }
  return normalise(v);
}

export function normalise(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}
