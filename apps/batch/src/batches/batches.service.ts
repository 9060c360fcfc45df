import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { BatchCaller } from '@switchyard/contracts';
import { Errors, OpenAIError, parseRequest, randomId } from '@switchyard/openai';
import { FilesRepository } from '../files/files.repository';
import { fileNotFound } from '../files/files.service';
import { batchView } from './batch-view';
import { BatchesRepository } from './batches.repository';
import { BATCH_ENDPOINTS } from './line-job';

export const COMPLETION_WINDOW_MS = 24 * 3600 * 1000;

export const createBatchSchema = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.enum(BATCH_ENDPOINTS),
  completion_window: z.literal('24h'),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullable().optional(),
});

export const listBatchesSchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().optional(),
});

function batchNotFound(id: string): OpenAIError {
  return new OpenAIError(404, `No such Batch object: ${id}`, 'invalid_request_error', null, 'batch_id');
}

/** OpenAI's Batch API: create, list, retrieve, cancel. The runner does the rest. */
@Injectable()
export class BatchesService {
  /** Called with a new batch's id so the runner starts validating it at once. */
  onCreated: (id: string) => void = () => undefined;

  constructor(
    private readonly batches: BatchesRepository,
    private readonly files: FilesRepository,
  ) {}

  async create(caller: BatchCaller, body: unknown) {
    const req = parseRequest(createBatchSchema, body);
    if (req.metadata && Object.keys(req.metadata).length > 16) throw Errors.badRequest('metadata may have at most 16 keys.', 'metadata', 'invalid_value');
    const file = await this.files.find(caller.userId, req.input_file_id);
    if (!file) throw fileNotFound(req.input_file_id);
    if (file.purpose !== 'batch') throw Errors.badRequest(`The file ${file.id} has purpose '${file.purpose}', not 'batch'.`, 'input_file_id', 'invalid_value');
    const id = randomId('batch_');
    await this.batches.insert({ id, caller, endpoint: req.endpoint, inputFileId: file.id, completionWindow: req.completion_window, metadata: req.metadata ?? null, windowMs: COMPLETION_WINDOW_MS });
    this.onCreated(id);
    return this.view(caller.userId, id);
  }

  async view(userId: string, id: string) {
    const b = await this.batches.find(userId, id);
    if (!b) throw batchNotFound(id);
    return batchView(b, await this.batches.counts(b.id));
  }

  async list(userId: string, query: unknown) {
    const q = parseRequest(listBatchesSchema, query ?? {});
    const rows = await this.batches.list(userId, q.limit, q.after);
    const page = await Promise.all(rows.slice(0, q.limit).map(async (b) => batchView(b, await this.batches.counts(b.id))));
    const out: Record<string, unknown> = { object: 'list', data: page, has_more: rows.length > q.limit };
    if (page.length) {
      out.first_id = page[0].id;
      out.last_id = page[page.length - 1].id;
    }
    return out;
  }

  /** `cancelling` now; the runner removes queued jobs, cancels running ones and ends at `cancelled`. */
  async cancel(userId: string, id: string) {
    const b = await this.batches.find(userId, id);
    if (!b) throw batchNotFound(id);
    if (b.status === 'validating' || b.status === 'in_progress') {
      await this.batches.setEnding(id, 'cancelled');
      await this.batches.transition(id, ['validating', 'in_progress'], 'cancelling');
    } else if (b.status !== 'cancelling' && b.status !== 'cancelled') {
      throw new OpenAIError(409, `Cannot cancel a batch with status '${b.status}'.`, 'invalid_request_error', 'batch_not_cancellable');
    }
    this.onCreated(id);
    return this.view(userId, id);
  }
}
