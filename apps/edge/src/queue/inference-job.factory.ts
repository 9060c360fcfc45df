import type { FastifyRequest } from 'fastify';
import { newRequestId } from '@switchyard/observability';
import type { InferenceJob, PriorityClass, Work } from '@switchyard/contracts';

/**
 * The request id a job runs under (BullMQ job id, relay dispatch, idempotent usage). It is the
 * HTTP request id the edge made; a client-chosen `x-request-id` is kept for the logs and the
 * response header but never becomes a job id, since two requests could then share one job (and
 * one usage row).
 */
export function jobRequestId(request: FastifyRequest): string {
  const incoming = request.headers['x-request-id'];
  return typeof incoming === 'string' && incoming === request.id ? newRequestId() : String(request.id);
}

export interface JobParams {
  requestId: string;
  pool: 'shared' | 'performance';
  priority: PriorityClass;
  model: string;
  numCtx: number;
  edgeId: string;
  keyId: string;
  userId: string;
  estimatedPromptTokens: number;
  stream: boolean;
  work: Work;
}

export function buildInferenceJob(p: JobParams): InferenceJob {
  return {
    requestId: p.requestId,
    pool: p.pool,
    model: p.model,
    numCtx: p.numCtx,
    priority: p.priority,
    edgeId: p.edgeId,
    keyId: p.keyId,
    userId: p.userId,
    createdAt: Date.now(),
    estimatedPromptTokens: Math.max(0, Math.round(p.estimatedPromptTokens)),
    stream: p.stream,
    work: p.work,
  };
}
