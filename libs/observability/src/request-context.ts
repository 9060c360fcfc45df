import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';

export interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The request id of the work being done now, if any (HTTP request, job, gRPC call). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `fn` with `requestId` attached to every log line written inside it. */
export function runWithRequestId<T>(requestId: string, fn: () => T): T {
  return storage.run({ requestId }, fn);
}

const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A client-supplied id is kept when it is a sane token; otherwise a new `req_...` id is made. */
export function acceptOrCreateRequestId(incoming: unknown): string {
  if (typeof incoming === 'string' && VALID_ID.test(incoming)) return incoming;
  return newRequestId();
}

export function newRequestId(): string {
  return `req_${randomBytes(12).toString('hex')}`;
}
