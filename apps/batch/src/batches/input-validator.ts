import { Inject, Injectable } from '@nestjs/common';
import type { CatalogueModel } from '@switchyard/contracts';
import { CATALOGUE } from '../config/batch-config.module';
import { FilesRepository } from '../files/files.repository';
import { MAX_FILE_LINES } from '../files/files.service';
import { BatchMetrics } from '../metrics/batch-metrics';
import type { BatchLineError, BatchRow } from './batches.repository';
import { lineToJob, type BatchEndpoint, type LineContext } from './line-job';
import { LinesRepository, type NewLine } from './lines.repository';

/** Errors beyond this many are not listed (the batch fails on the first anyway). */
const MAX_REPORTED_ERRORS = 1000;
const FLUSH_LINES = 1000;

export type ValidationResult = { ok: true; lines: number } | { ok: false; errors: BatchLineError[] };

/**
 * Reads a batch's input file line by line and checks it as OpenAI does: each line JSON with a
 * unique `custom_id`, `method` POST, `url` the batch's endpoint, a `body` object. Any such problem
 * fails the whole batch (with line numbers). A well-formed line whose body the endpoint would
 * refuse (unknown model, not allowed, invalid) is a line-level failure for the error file.
 */
@Injectable()
export class InputValidator {
  private readonly catalogue: ReadonlyMap<string, CatalogueModel>;

  constructor(
    private readonly files: FilesRepository,
    private readonly lines: LinesRepository,
    private readonly metrics: BatchMetrics,
    @Inject(CATALOGUE) catalogue: readonly CatalogueModel[],
  ) {
    this.catalogue = new Map(catalogue.map((m) => [m.name, m]));
  }

  async validateAndStore(batch: BatchRow): Promise<ValidationResult> {
    const file = await this.files.find(batch.user_id, batch.input_file_id);
    if (!file) return { ok: false, errors: [{ code: 'invalid_file', message: `The input file ${batch.input_file_id} no longer exists.`, param: 'input_file_id', line: null }] };
    const ctx: LineContext = {
      batchId: batch.id,
      endpoint: batch.endpoint as BatchEndpoint,
      caller: batch.caller,
      catalogue: this.catalogue,
      budgetSpent: batch.caller.policy.tokenBudget > 0 && batch.caller.budgetUsed >= batch.caller.policy.tokenBudget,
    };
    const errors: BatchLineError[] = [];
    const seen = new Set<string>();
    let pending: NewLine[] = [];
    let count = 0;
    const failedByModel = new Map<string, number>();
    const fail = (line: number, code: string, message: string, param: string | null = null) => {
      if (errors.length < MAX_REPORTED_ERRORS) errors.push({ code, message, param, line });
    };
    for await (const { line, text } of this.files.lines(file.id)) {
      if (text.trim() === '') continue;
      count++;
      if (count > MAX_FILE_LINES) {
        fail(line, 'too_many_requests', `The batch has more than ${MAX_FILE_LINES} requests.`);
        break;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        fail(line, 'invalid_json_line', 'This line is not parseable as valid JSON.');
        continue;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        fail(line, 'invalid_json_line', 'This line is not a JSON object.');
        continue;
      }
      const o = parsed as { custom_id?: unknown; method?: unknown; url?: unknown; body?: unknown };
      if (typeof o.custom_id !== 'string' || o.custom_id.length === 0) {
        fail(line, 'missing_required_parameter', "Missing required parameter: 'custom_id'.", 'custom_id');
        continue;
      }
      if (seen.has(o.custom_id)) {
        fail(line, 'duplicate_custom_id', `The custom_id '${o.custom_id}' is used by more than one request in this batch.`, 'custom_id');
        continue;
      }
      seen.add(o.custom_id);
      if (o.method !== 'POST') {
        fail(line, 'invalid_method', "The method of every request must be 'POST'.", 'method');
        continue;
      }
      if (o.url !== batch.endpoint) {
        fail(line, 'invalid_url', `The url of this request does not match the batch's endpoint (${batch.endpoint}).`, 'url');
        continue;
      }
      if (typeof o.body !== 'object' || o.body === null || Array.isArray(o.body)) {
        fail(line, 'invalid_request', "The 'body' of the request must be a JSON object.", 'body');
        continue;
      }
      if (errors.length > 0) continue;
      const nl = lineToJob(ctx, line, o.custom_id, o.body);
      if (!('job' in nl)) failedByModel.set(nl.model || 'unknown', (failedByModel.get(nl.model || 'unknown') ?? 0) + 1);
      pending.push(nl);
      if (pending.length >= FLUSH_LINES) {
        await this.lines.insert(batch.id, pending);
        pending = [];
      }
    }
    if (count === 0 && errors.length === 0) errors.push({ code: 'empty_file', message: 'The input file has no requests.', param: 'input_file_id', line: null });
    if (errors.length > 0) {
      await this.lines.deleteAll(batch.id);
      return { ok: false, errors };
    }
    await this.lines.insert(batch.id, pending);
    for (const [model, n] of failedByModel) this.metrics.lineFailed(model, n);
    return { ok: true, lines: count };
  }
}
