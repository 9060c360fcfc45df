import type { InferenceJob, PriorityClass } from '@switchyard/contracts';

let n = 0;

/** A small generate job of `keyId` for `model` in the shared pool, each with its own request id (for this library's tests). */
export function inferenceJob(model: string, keyId: string, priority: PriorityClass = 'interactive'): InferenceJob {
  n += 1;
  return {
    requestId: `req_${keyId}_${n}`,
    pool: 'shared',
    model,
    numCtx: 8192,
    priority,
    edgeId: 'e',
    keyId,
    userId: `u-${keyId}`,
    createdAt: Date.now(),
    estimatedPromptTokens: 3,
    stream: false,
    work: { kind: 'generate', prompt: 'x', options: {} },
  };
}
