import type { OllamaApi } from '../ollama/ollama.client';
import { OllamaAbortedError } from '../ollama/ollama.errors';
import type { OllamaChatRequest, OllamaEmbedRequest, OllamaEmbedResponse, OllamaGenerateRequest, OllamaPsModel, OllamaStreamLine } from '../ollama/ollama.schema';

/** One step of a scripted stream: a line, a pause, or a failure. */
export type StreamStep = OllamaStreamLine | { waitMs: number } | { fail: Error };

/** `n` chat tokens then a final line with Ollama's metrics. */
export function chatLines(n: number, opts: { doneReason?: string; promptTokens?: number; text?: string } = {}): OllamaStreamLine[] {
  const lines: OllamaStreamLine[] = [];
  for (let i = 0; i < n; i++) lines.push({ model: 'm', message: { role: 'assistant', content: `${opts.text ?? 'tok'}${i} ` }, done: false });
  lines.push({
    model: 'm',
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: opts.doneReason ?? 'stop',
    total_duration: 2_000_000_000,
    load_duration: 100_000_000,
    prompt_eval_count: opts.promptTokens ?? 7,
    prompt_eval_duration: 50_000_000,
    eval_count: n,
    eval_duration: 1_000_000_000,
  });
  return lines;
}

/** An in-memory Ollama for unit tests: records calls, plays scripted streams, honours AbortSignals. */
export class FakeOllama implements OllamaApi {
  readonly baseUrl = 'http://fake-ollama';
  readonly calls: Array<{ op: string; body?: unknown; model?: string }> = [];
  ps_: OllamaPsModel[] = [];
  /** Steps the next chat/generate stream plays (shifted per call; the last one repeats). */
  scripts: StreamStep[][] = [chatLines(3)];
  /** Fails the HTTP request itself (before any line). */
  requestError: Error | undefined;
  embedResult: OllamaEmbedResponse = { embeddings: [[0.1, 0.2]], prompt_eval_count: 3, total_duration: 1_000_000, load_duration: 0 };
  preloadMs = 0;
  preloadError: Error | undefined;
  unloadError: Error | undefined;
  psError: Error | undefined;
  versionError: Error | undefined;
  /** Streams currently open (to check slots and aborts). */
  open = 0;
  maxOpen = 0;

  async version(): Promise<string> {
    if (this.versionError) throw this.versionError;
    return '0.0.0-fake';
  }

  async ps(): Promise<OllamaPsModel[]> {
    if (this.psError) throw this.psError;
    return this.ps_.map((p) => ({ ...p }));
  }

  async preload(model: string, opts: { numCtx: number; embedding: boolean }, signal?: AbortSignal): Promise<{ loadMs: number }> {
    this.calls.push({ op: 'preload', model, body: opts });
    if (this.preloadError) throw this.preloadError;
    await delay(this.preloadMs, signal);
    if (!this.ps_.some((p) => p.name === model)) this.ps_.push({ name: model, size: 1e9, size_vram: 1e9, context_length: opts.numCtx });
    return { loadMs: this.preloadMs };
  }

  async unload(model: string): Promise<void> {
    this.calls.push({ op: 'unload', model });
    if (this.unloadError) throw this.unloadError;
    this.ps_ = this.ps_.filter((p) => p.name !== model);
  }

  chat(body: OllamaChatRequest, signal?: AbortSignal): AsyncGenerator<OllamaStreamLine> {
    this.calls.push({ op: 'chat', body, model: body.model });
    return this.play(signal);
  }

  generate(body: OllamaGenerateRequest, signal?: AbortSignal): AsyncGenerator<OllamaStreamLine> {
    this.calls.push({ op: 'generate', body, model: body.model });
    return this.play(signal);
  }

  async embed(body: OllamaEmbedRequest, signal?: AbortSignal): Promise<OllamaEmbedResponse> {
    this.calls.push({ op: 'embed', body, model: body.model });
    if (this.requestError) throw this.requestError;
    if (signal?.aborted) throw new OllamaAbortedError(signal.reason);
    return this.embedResult;
  }

  private async *play(signal?: AbortSignal): AsyncGenerator<OllamaStreamLine> {
    if (this.requestError) throw this.requestError;
    const script = this.scripts.length > 1 ? (this.scripts.shift() ?? []) : (this.scripts[0] ?? []);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    try {
      for (const step of script) {
        if (signal?.aborted) throw new OllamaAbortedError(signal.reason);
        if ('waitMs' in step && typeof step.waitMs === 'number') await delay(step.waitMs, signal);
        else if ('fail' in step && step.fail instanceof Error) throw step.fail;
        else yield step as OllamaStreamLine;
      }
    } finally {
      this.open--;
    }
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new OllamaAbortedError(signal.reason));
      },
      { once: true },
    );
  });
}
