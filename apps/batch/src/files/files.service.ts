import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { Errors, OpenAIError, randomId } from '@switchyard/openai';
import { FileLimitError, FileWriter } from './file-writer';
import { fileView, type OpenAIFileObject } from './file-view';
import { FilesRepository, type FileListQuery, type FileRow } from './files.repository';

/** OpenAI's limits for a batch input file. */
export const MAX_FILE_BYTES = 200 * 1024 * 1024;
export const MAX_FILE_LINES = 50_000;

export const newFileId = () => randomId('file-');

export function fileNotFound(id: string): OpenAIError {
  return new OpenAIError(404, `No such File object: ${id}`, 'invalid_request_error', null, 'id');
}

/** Files of the Files API: uploads streamed into chunks, listing, content, deletion. A user sees only their own. */
@Injectable()
export class FilesService {
  constructor(private readonly files: FilesRepository) {}

  /**
   * Streams an upload into the database. Over a limit, or on any failure, nothing is kept. The
   * file stays invisible until `publish` (the purpose may arrive after the content).
   */
  async receive(userId: string, filename: string, content: Readable): Promise<FileWriter> {
    const id = newFileId();
    await this.files.create({ id, userId, purpose: 'batch', filename });
    const writer = new FileWriter(this.files, id, { maxBytes: MAX_FILE_BYTES, maxLines: MAX_FILE_LINES });
    try {
      for await (const data of content) await writer.write(data as Buffer);
      if ((content as Readable & { truncated?: boolean }).truncated) throw new FileLimitError(`The file is larger than ${MAX_FILE_BYTES} bytes.`, 'file_too_large');
    } catch (err) {
      content.resume();
      await this.files.remove(id).catch(() => undefined);
      if (err instanceof FileLimitError) throw Errors.badRequest(err.message, 'file', err.code);
      throw err;
    }
    return writer;
  }

  async publish(writer: FileWriter, userId: string): Promise<OpenAIFileObject> {
    await writer.finish();
    return fileView(await this.get(userId, writer.fileId));
  }

  async discard(fileId: string): Promise<void> {
    await this.files.remove(fileId);
  }

  async get(userId: string, id: string): Promise<FileRow> {
    const f = await this.files.find(userId, id);
    if (!f) throw fileNotFound(id);
    return f;
  }

  async list(userId: string, q: FileListQuery) {
    const rows = await this.files.list(userId, q);
    const page = rows.slice(0, q.limit).map(fileView);
    return { object: 'list' as const, data: page, first_id: page[0]?.id ?? '', last_id: page[page.length - 1]?.id ?? '', has_more: rows.length > q.limit };
  }

  async remove(userId: string, id: string) {
    await this.get(userId, id);
    await this.files.remove(id);
    return { id, object: 'file' as const, deleted: true };
  }

  content(id: string): AsyncGenerator<Buffer> {
    return this.files.chunks(id);
  }
}
