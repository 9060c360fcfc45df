import { Injectable } from '@nestjs/common';
import { batchLineRequestId } from '@switchyard/contracts';
import { randomId } from '@switchyard/openai';
import type { BatchRow } from '../batches/batches.repository';
import { LinesRepository, type FinishedLine } from '../batches/lines.repository';
import { FileWriter } from '../files/file-writer';
import { FilesRepository } from '../files/files.repository';
import { newFileId } from '../files/files.service';

const PAGE = 500;
const NO_LIMIT = { maxBytes: Number.MAX_SAFE_INTEGER, maxLines: Number.MAX_SAFE_INTEGER };

/**
 * Writes a batch's output file (answered lines) and error file (failed and expired lines) in
 * OpenAI's line format, streaming from the lines table into file chunks page by page. A file is
 * made only when it has a line; both belong to the batch's user, purpose `batch_output`.
 */
@Injectable()
export class OutputWriter {
  constructor(
    private readonly lines: LinesRepository,
    private readonly files: FilesRepository,
  ) {}

  async write(batch: BatchRow): Promise<{ outputFileId: string | null; errorFileId: string | null }> {
    let output: FileWriter | undefined;
    let errors: FileWriter | undefined;
    const open = async (kind: 'output' | 'error') => {
      const id = newFileId();
      await this.files.create({ id, userId: batch.user_id, purpose: 'batch_output', filename: `${batch.id}_${kind}.jsonl` });
      return new FileWriter(this.files, id, NO_LIMIT);
    };
    for (let after = 0; ; ) {
      const page = await this.lines.finishedPage(batch.id, after, PAGE);
      if (page.length === 0) break;
      for (const l of page) {
        const text = `${JSON.stringify(outputLine(batch.id, l))}\n`;
        if (l.state === 'done') await (output ??= await open('output')).write(text);
        else await (errors ??= await open('error')).write(text);
      }
      after = page[page.length - 1].line;
    }
    await output?.finish();
    await errors?.finish();
    return { outputFileId: output?.fileId ?? null, errorFileId: errors?.fileId ?? null };
  }
}

export function outputLine(batchId: string, l: FinishedLine): object {
  const id = randomId('batch_req_');
  if (l.state === 'expired') {
    return { id, custom_id: l.custom_id, response: null, error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' } };
  }
  return { id, custom_id: l.custom_id, response: { status_code: l.status_code, request_id: batchLineRequestId(batchId, l.line), body: l.body }, error: null };
}
