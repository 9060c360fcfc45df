/** Go-style durations, as Ollama reads `keep_alive` and OLLAMA_KEEP_ALIVE. */

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  'µs': 1e-6,
  'μs': 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** Parses a Go duration (`"5m"`, `"1h30m"`, `"-1s"`, `"0"`) into seconds; throws Go's error text. */
export function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new Error(`time: invalid duration ${quoted}`);
  let total = 0;
  const part = /^(\d*\.?\d*)([^\d.]*)/;
  while (s.length > 0) {
    const m = part.exec(s);
    if (!m || m[1] === '' || m[1] === '.') throw new Error(`time: invalid duration ${quoted}`);
    if (m[2] === '') throw new Error(`time: missing unit in duration ${quoted}`);
    const unit = UNIT_SECONDS[m[2]];
    if (unit === undefined) throw new Error(`time: unknown unit ${JSON.stringify(m[2])} in duration ${quoted}`);
    total += Number(m[1]) * unit;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/**
 * A request's `keep_alive` in seconds: a number is seconds, a string a Go duration; negative means
 * forever (Infinity); 0 means unload as soon as idle. Throws with Ollama's message on bad input.
 */
export function parseKeepAlive(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error('json: invalid keep_alive');
    return value < 0 ? Infinity : value;
  }
  if (typeof value === 'string') {
    const seconds = parseGoDuration(value);
    return seconds < 0 ? Infinity : seconds;
  }
  throw new Error('Unsupported type: \'' + typeof value + '\'');
}

/** OLLAMA_KEEP_ALIVE style: a Go duration, or a bare integer of seconds. */
export function parseKeepAliveSetting(text: string): number {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) {
    const n = Number(t);
    return n < 0 ? Infinity : n;
  }
  return parseKeepAlive(t);
}

/** `300` → `5m0s` (for logs and README examples). */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'forever';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = +(seconds % 60).toFixed(3);
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}
