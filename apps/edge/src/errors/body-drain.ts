import type { IncomingMessage } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

const HARD_CAP_BYTES = 100 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 30_000;

/** The most of a refused body the edge reads and drops: 4× the body limit, at most 100 MB. */
export function drainCap(bodyLimit: number): number {
  return Math.max(bodyLimit, Math.min(4 * bodyLimit, HARD_CAP_BYTES));
}

/**
 * Sends an error answered before the request body was read (a 413 on the declared length) only
 * after reading and dropping the rest of the body. Clients built on fetch (the openai SDK among
 * them) write the whole body before they read a response: answering and closing first resets the
 * connection under them, and they report a network error instead of the 413. A body declared or
 * found larger than `cap`, or still arriving after 30 s, is not waited for: the answer goes out and
 * the connection closes. A body read to its end leaves the connection open for the next request.
 */
export function drainBodyBeforeErrors(app: NestFastifyApplication, cap: number): void {
  app.getHttpAdapter().getInstance().addHook('onSend', (request, reply, _payload, done) => {
    if (reply.statusCode < 400 || request.raw.complete) return done();
    void drain(request.raw, cap).then(() => {
      if (request.raw.complete) reply.removeHeader('connection');
      done();
    });
  });
}

function drain(req: IncomingMessage, cap: number): Promise<void> {
  const declared = Number(req.headers['content-length']);
  if (req.complete || req.destroyed || declared > cap) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > cap) finish();
    };
    const finish = () => {
      clearTimeout(timer);
      req.off('data', onData).off('end', finish).off('close', finish).off('error', finish);
      resolve();
    };
    const timer = setTimeout(finish, DRAIN_TIMEOUT_MS);
    req.on('data', onData).once('end', finish).once('close', finish).once('error', finish);
    req.resume();
  });
}
