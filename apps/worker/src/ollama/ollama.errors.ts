/** Ollama answered with an HTTP error status before streaming (`{"error": "..."}`). */
export class OllamaHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'OllamaHttpError';
  }
}

/** Ollama could not be reached or the connection broke (refused, reset, timed out). */
export class OllamaConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OllamaConnectionError';
  }
}

/** A `{"error": "..."}` line inside a 200 NDJSON stream. */
export class OllamaStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OllamaStreamError';
  }
}

/** The caller's AbortSignal fired (cancellation). */
export class OllamaAbortedError extends Error {
  constructor(readonly reason: unknown) {
    super('request aborted');
    this.name = 'OllamaAbortedError';
  }
}

const CONTEXT_LENGTH = /longer than the context length|exceeds (the )?(maximum )?context length|context window/i;

/** Ollama's messages for a prompt or input that does not fit the context window. */
export function isContextLengthMessage(message: string): boolean {
  return CONTEXT_LENGTH.test(message);
}
