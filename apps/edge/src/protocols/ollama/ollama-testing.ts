import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { ALL_KEY, type EdgeHarness } from '../../testing/edge-harness';

/** Helpers for the native API's int-specs: raw calls, NDJSON reading, and Ollama's exact shapes. */

export function ollamaClient(h: EdgeHarness, key = ALL_KEY): Ollama {
  return new Ollama({ host: h.url, headers: { Authorization: `Bearer ${key}` } });
}

export function call(h: EdgeHarness, path: string, body?: unknown, key: string | null = ALL_KEY, method = body === undefined ? 'GET' : 'POST'): Promise<Response> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${h.url}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
}

export type Line = Record<string, unknown>;

export async function ndjson(res: Response): Promise<Line[]> {
  const text = await res.text();
  assert.ok(text.endsWith('\n'), 'every NDJSON line ends with a newline');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

/** An error in Ollama's shape: the status, JSON, and exactly `{"error": "<message>"}`. */
export async function assertOllamaError(res: Response, status: number, message?: RegExp): Promise<string> {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(typeof body.error, 'string');
  if (message) assert.match(body.error as string, message);
  return body.error as string;
}

const METRICS = ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration'];
export const CHAT_DONE_KEYS = ['model', 'created_at', 'message', 'done_reason', 'done', ...METRICS];
export const GENERATE_DONE_KEYS = ['model', 'created_at', 'response', 'done', 'done_reason', ...METRICS];

/** A last line / whole answer: Ollama's keys in Ollama's order, integer nanoseconds, an RFC 3339 `created_at`. */
export function assertDone(o: Line, api: 'chat' | 'generate', model: string): void {
  assert.deepEqual(Object.keys(o), api === 'chat' ? CHAT_DONE_KEYS : GENERATE_DONE_KEYS);
  assert.equal(o.model, model);
  assert.equal(o.done, true);
  assert.ok(o.done_reason === 'stop' || o.done_reason === 'length');
  assertCreatedAt(o);
  for (const k of METRICS) assert.ok(Number.isInteger(o[k]) && (o[k] as number) >= 0, `${k} is a non-negative integer`);
  assert.ok((o.total_duration as number) >= (o.prompt_eval_duration as number) + (o.eval_duration as number), 'the total covers the evaluation');
}

export function assertCreatedAt(o: Line): void {
  assert.equal(typeof o.created_at, 'string');
  assert.ok(Math.abs(Date.parse(o.created_at as string) - Date.now()) < 60_000, 'created_at is now, RFC 3339');
}
