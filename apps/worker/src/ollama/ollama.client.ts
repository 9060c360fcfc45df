import { Agent, request } from 'undici';
import type { z } from 'zod';
import { parseNdjson } from './ndjson';
import { OllamaAbortedError, OllamaConnectionError, OllamaHttpError } from './ollama.errors';
import {
  OllamaChatRequest,
  OllamaEmbedRequest,
  OllamaEmbedResponse,
  ollamaEmbedResponseSchema,
  ollamaErrorBodySchema,
  OllamaGenerateRequest,
  ollamaMetricsSchema,
  OllamaPsModel,
  ollamaPsResponseSchema,
  OllamaStreamLine,
  ollamaStreamLineSchema,
  ollamaVersionSchema,
} from './ollama.schema';

export const OLLAMA_CLIENT = Symbol('OLLAMA_CLIENT');

export interface OllamaClientOptions {
  /** Longest wait for response headers (a request may wait for a model load). */
  headersTimeoutMs: number;
  /** Longest silence between two body chunks. */
  bodyTimeoutMs: number;
  connectTimeoutMs?: number;
}

/** The parts of the Ollama client the rest of the worker uses (faked in unit tests). */
export interface OllamaApi {
  readonly baseUrl: string;
  version(signal?: AbortSignal): Promise<string>;
  ps(signal?: AbortSignal): Promise<OllamaPsModel[]>;
  /** Loads a model with `keep_alive: -1` and the fixed `num_ctx`; resolves with Ollama's load duration (ms). */
  preload(model: string, opts: { numCtx: number; embedding: boolean }, signal?: AbortSignal): Promise<{ loadMs: number }>;
  /** Unloads a model (`keep_alive: 0`, empty prompt). */
  unload(model: string, signal?: AbortSignal): Promise<void>;
  chat(body: OllamaChatRequest, signal?: AbortSignal): AsyncGenerator<OllamaStreamLine>;
  generate(body: OllamaGenerateRequest, signal?: AbortSignal): AsyncGenerator<OllamaStreamLine>;
  embed(body: OllamaEmbedRequest, signal?: AbortSignal): Promise<OllamaEmbedResponse>;
}

/**
 * HTTP client of Ollama's native API (undici). The same code runs against a real Ollama and the
 * simulator: NDJSON streaming, AbortSignal cancellation (closing the connection frees Ollama's slot),
 * and errors sorted into HTTP errors (a status and Ollama's message), connection errors (refused,
 * reset, timed out) and aborts.
 */
export class OllamaClient implements OllamaApi {
  readonly baseUrl: string;
  private readonly agent: Agent;

  constructor(
    baseUrl: string,
    private readonly opts: OllamaClientOptions,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.agent = new Agent({
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
      keepAliveTimeout: 4_000,
    });
  }

  async version(signal?: AbortSignal): Promise<string> {
    const body = await this.json('GET', '/api/version', undefined, ollamaVersionSchema, signal ?? AbortSignal.timeout(2_000));
    return body.version;
  }

  async ps(signal?: AbortSignal): Promise<OllamaPsModel[]> {
    const body = await this.json('GET', '/api/ps', undefined, ollamaPsResponseSchema, signal ?? AbortSignal.timeout(5_000));
    return body.models;
  }

  async preload(model: string, opts: { numCtx: number; embedding: boolean }, signal?: AbortSignal): Promise<{ loadMs: number }> {
    // A chat model loads with an empty /api/generate; an embedding-only model refuses generate, so it
    // loads with an empty /api/embed instead. Both keep it forever (keep_alive -1) with the fixed num_ctx.
    const options = { num_ctx: opts.numCtx };
    const body = opts.embedding
      ? await this.json('POST', '/api/embed', { model, input: [], keep_alive: -1, options }, ollamaMetricsSchema, signal)
      : await this.json('POST', '/api/generate', { model, keep_alive: -1, options, stream: false }, ollamaMetricsSchema, signal);
    return { loadMs: (body.load_duration ?? 0) / 1e6 };
  }

  async unload(model: string, signal?: AbortSignal): Promise<void> {
    await this.json('POST', '/api/generate', { model, keep_alive: 0, stream: false }, ollamaMetricsSchema, signal ?? AbortSignal.timeout(60_000));
  }

  chat(body: OllamaChatRequest, signal?: AbortSignal): AsyncGenerator<OllamaStreamLine> {
    return this.stream('/api/chat', body, signal);
  }

  generate(body: OllamaGenerateRequest, signal?: AbortSignal): AsyncGenerator<OllamaStreamLine> {
    return this.stream('/api/generate', body, signal);
  }

  embed(body: OllamaEmbedRequest, signal?: AbortSignal): Promise<OllamaEmbedResponse> {
    return this.json('POST', '/api/embed', body, ollamaEmbedResponseSchema, signal);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async *stream(path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<OllamaStreamLine> {
    const res = await this.send('POST', path, body, signal);
    try {
      // The `done` line is handed on only once the body has ended: a consumer stops at it, and a
      // body still open then would be destroyed, closing the keep-alive connection (a new TCP
      // connection to Ollama per job, and an abort error built per job).
      let last: OllamaStreamLine | undefined;
      for await (const value of parseNdjson(res.body)) {
        const line = ollamaStreamLineSchema.safeParse(value);
        if (!line.success) throw new OllamaConnectionError(`unexpected line from Ollama ${path}: ${line.error.message}`);
        if (last) continue;
        if (line.data.done) last = line.data;
        else yield line.data;
      }
      if (last) yield last;
    } catch (err) {
      throw this.translate(err, signal);
    } finally {
      // A consumer that stops early (cancel, error) closes the connection, which frees Ollama's slot.
      if (!res.body.destroyed) res.body.destroy();
    }
  }

  private async json<S extends z.ZodType>(method: 'GET' | 'POST', path: string, body: unknown, schema: S, signal?: AbortSignal): Promise<z.infer<S>> {
    const res = await this.send(method, path, body, signal);
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw this.translate(err, signal);
    }
    const parsed = schema.safeParse(safeJson(text));
    if (!parsed.success) throw new OllamaConnectionError(`unexpected answer from Ollama ${path}`);
    return parsed.data;
  }

  private async send(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal) {
    let res;
    try {
      res = await request(`${this.baseUrl}${path}`, {
        method,
        dispatcher: this.agent,
        signal,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw this.translate(err, signal);
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    let text = '';
    try {
      text = await res.body.text();
    } catch {
      // the status says enough
    }
    const parsed = ollamaErrorBodySchema.safeParse(safeJson(text));
    throw new OllamaHttpError(res.statusCode, parsed.success ? parsed.data.error : text.trim() || `HTTP ${res.statusCode}`);
  }

  private translate(err: unknown, signal?: AbortSignal): Error {
    if (signal?.aborted) return new OllamaAbortedError(signal.reason);
    if (err instanceof OllamaHttpError || err instanceof OllamaConnectionError || err instanceof OllamaAbortedError) return err;
    if (err instanceof SyntaxError) return new OllamaConnectionError(`malformed stream from Ollama: ${err.message}`, { cause: err });
    const code = (err as { code?: unknown }).code;
    const message = err instanceof Error ? err.message : String(err);
    return new OllamaConnectionError(`Ollama at ${this.baseUrl} unreachable: ${typeof code === 'string' ? `${code} ` : ''}${message}`, { cause: err });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
