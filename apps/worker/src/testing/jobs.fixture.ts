import { randomBytes } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import { BULLMQ_PRIORITY, INFERENCE_JOB_NAME, type InferenceJob, Queues } from '@switchyard/contracts';

let counter = 0;

/** An inference job as an edge builds it; `work` defaults to a short chat. */
export function makeJob(overrides: Partial<InferenceJob> = {}): InferenceJob {
  return {
    requestId: `req_test_${randomBytes(6).toString('hex')}_${counter++}`,
    pool: 'shared',
    model: 'llama3.1:8b',
    numCtx: 8192,
    priority: 'interactive',
    edgeId: 'edge-test',
    keyId: 'key_test',
    userId: 'user_test',
    createdAt: Date.now(),
    estimatedPromptTokens: 5,
    stream: true,
    work: { kind: 'chat', messages: [{ role: 'user', content: 'Say hello' }], options: { num_predict: 20 } },
    ...overrides,
  };
}

/** A BullMQ queue of `(pool, model)` opened exactly as the edge opens it. */
export function edgeQueue(redisUrl: string, prefix: string, pool: string, model: string): Queue {
  return new Queue(Queues.inference(pool, model), { connection: { url: redisUrl }, prefix: Queues.bullPrefix(prefix) });
}

/** Enqueues like the edge (libs/contracts/README.md): job id = request id, priority by class, 3 attempts with backoff. */
export function enqueueLikeEdge(queue: Queue, job: InferenceJob, opts: Partial<JobsOptions> = {}) {
  return queue.add(INFERENCE_JOB_NAME, job, {
    jobId: job.requestId,
    priority: BULLMQ_PRIORITY[job.priority],
    attempts: 3,
    backoff: { type: 'exponential', delay: 50 },
    removeOnComplete: true,
    removeOnFail: { age: 3600 },
    ...opts,
  });
}
