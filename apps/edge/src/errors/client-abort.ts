import type { IncomingMessage } from 'node:http';

const GONE_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * True when `err` only says that this request's client went away — it closed or reset the
 * connection while its body was arriving or its answer was being written ("aborted", ECONNRESET,
 * premature close) — and its connection is indeed gone. Not a fault of the edge, and nobody is left
 * to answer. An ECONNRESET from Redis while the client still waits is not one.
 */
export function isClientAbort(err: unknown, req: IncomingMessage): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  const saysGone = (code !== undefined && GONE_CODES.has(code)) || err.message === 'aborted' || /premature close/i.test(err.message);
  return saysGone && (req.readableAborted || !req.socket || req.socket.destroyed);
}
