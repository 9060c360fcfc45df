import { Inject, Injectable, OnModuleInit, UnsupportedMediaTypeException } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { request as undiciRequest } from 'undici';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { Errors, OpenAIError } from '@switchyard/openai';
import { EDGE_CONFIG, type EdgeConfig } from '../../../config/edge.config';
import type { AuthContext } from '../../../auth/auth.service';
import { callerHeaders } from './batch-caller';

/** An upload larger than this is refused before it reaches the batch service (files are ≤ 200 MB plus the form's framing). */
export const MAX_UPLOAD_BYTES = 210 * 1024 * 1024;

/** Response headers of the batch service that reach the client unchanged. */
const PASSED_HEADERS = ['content-type', 'content-length', 'content-disposition', 'retry-after', 'retry-after-ms', 'x-should-retry', 'cache-control'];

/** The batch service's answer: its status, the headers the client gets, and its body as a stream. */
export interface BatchAnswer {
  status: number;
  headers: Record<string, string>;
  body: Readable;
}

/**
 * Port to apps/batch: forwards one request, with the verified caller and the internal token, and
 * hands back its answer as a stream. An upload is streamed through (never buffered here); a
 * service that does not answer is a 503 `batch_unavailable`.
 */
@Injectable()
export class BatchClient implements OnModuleInit {
  constructor(
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly adapter: HttpAdapterHost,
  ) {}

  /** Nest has registered its JSON and form parsers by now: add the multipart pass-through beside them. */
  onModuleInit(): void {
    const fastify = this.adapter.httpAdapter.getInstance<FastifyInstance>();
    registerMultipartPassThrough(fastify);
    acceptEmptyBodyOnCancel(fastify);
  }

  async forward(request: FastifyRequest, caller: AuthContext, signal: AbortSignal): Promise<BatchAnswer> {
    const base = this.config.BATCH_URL;
    if (base === 'none') throw Errors.routeNotFound(request.method, request.url);
    const token = this.config.BATCH_INTERNAL_TOKEN;
    if (!token) {
      this.logger.warn('BATCH_INTERNAL_TOKEN is not set: the batch service cannot be called');
      throw batchUnavailable('The batch service is not configured on this server.');
    }
    const headers: Record<string, string> = {
      ...callerHeaders(caller, token),
      'x-request-id': String(request.id),
      accept: request.headers.accept ?? '*/*',
    };
    let body: string | Readable | undefined;
    if (isStream(request.body)) {
      const declared = Number(request.headers['content-length']);
      if (declared > MAX_UPLOAD_BYTES) throw Errors.bodyTooLarge(MAX_UPLOAD_BYTES);
      headers['content-type'] = String(request.headers['content-type']);
      if (Number.isFinite(declared)) headers['content-length'] = String(declared);
      body = Readable.from(capped(request.body, MAX_UPLOAD_BYTES), { objectMode: false });
    } else if (request.body !== undefined && request.body !== null && request.method !== 'GET' && request.method !== 'DELETE') {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.body);
    }
    const url = new URL(upstreamPath(request.url), base.endsWith('/') ? base : `${base}/`);
    try {
      const res = await undiciRequest(url, {
        method: request.method as 'GET' | 'POST' | 'DELETE',
        headers,
        body,
        signal,
        headersTimeout: 300_000,
        bodyTimeout: 300_000,
      });
      const passed: Record<string, string> = {};
      for (const name of PASSED_HEADERS) {
        const v = res.headers[name];
        if (v !== undefined) passed[name] = Array.isArray(v) ? v.join(', ') : v;
      }
      return { status: res.statusCode, headers: passed, body: res.body };
    } catch (err) {
      if (err instanceof OpenAIError) throw err;
      if (signal.aborted) throw err; // the client went away: nobody to answer
      this.logger.warn({ err: (err as Error).message, code: (err as { code?: string }).code }, 'batch service did not answer');
      throw batchUnavailable('The batch service is unavailable; please retry shortly.');
    }
  }
}

/** `/api/files/x?y` → `v1/files/x?y` (relative to BATCH_URL); `/v1/...` as it is. */
export function upstreamPath(url: string): string {
  return url.replace(/^\/+(?:api\/v1|v1|api)\//, 'v1/');
}

export function batchUnavailable(message: string): OpenAIError {
  return new OpenAIError(503, message, 'api_error', 'batch_unavailable', null, { 'retry-after': '2', 'retry-after-ms': '2000' }, 'batch_unavailable');
}

function isStream(body: unknown): body is Readable {
  return typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function';
}

async function* capped(source: Readable, max: number): AsyncIterable<Buffer> {
  let seen = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > max) throw Errors.bodyTooLarge(max);
    yield chunk;
  }
}

const FILES_ROUTE = /^\/(?:v1|api)\/files\/?$/;
const CANCEL_ROUTE = /^\/(?:v1|api)\/batches\/[^/]+\/cancel\/?$/;

/**
 * A batch's cancel takes no body, and OpenAI's own example calls it with `curl -X POST ... -H
 * "Content-Type: application/json"` and nothing sent. Fastify's JSON parser refuses an empty body
 * under that label (400), so the label is dropped there when nothing is sent: the request then has
 * no body, as OpenAI treats it. A cancel with a body is parsed as usual.
 */
export function acceptEmptyBodyOnCancel(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    const h = request.headers;
    if (request.method === 'POST' && h['content-type'] !== undefined && h['transfer-encoding'] === undefined && (h['content-length'] === undefined || h['content-length'] === '0') && CANCEL_ROUTE.test(request.url.split('?')[0])) {
      delete h['content-type'];
    }
    done();
  });
}

/**
 * `multipart/form-data` is accepted only by the Files upload, whose body is handed on as the raw
 * request stream (no edge body limit, never in memory); any other route refuses it with Fastify's 415.
 */
export function registerMultipartPassThrough(fastify: FastifyInstance): void {
  const type = 'multipart/form-data';
  if (fastify.hasContentTypeParser(type)) return;
  fastify.addContentTypeParser(type, (request, payload, done) => {
    if (request.method === 'POST' && FILES_ROUTE.test(request.url.split('?')[0])) return done(null, payload);
    done(new UnsupportedMediaTypeException(`Unsupported Media Type: ${type}`), undefined);
  });
}
