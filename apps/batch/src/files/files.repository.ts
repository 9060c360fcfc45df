import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Database } from '@switchyard/database';

export interface FileRow {
  id: string;
  user_id: string;
  purpose: string;
  filename: string;
  bytes: number;
  line_count: number;
  created_at: Date;
}

export interface FileListQuery {
  purpose?: string;
  limit: number;
  after?: string;
  order: 'asc' | 'desc';
}

const COLUMNS = 'id, user_id, purpose, filename, bytes, line_count, created_at';

/**
 * Files and their content: rows in `batch_files`, content in `batch_file_chunks` (bytea, in order),
 * so a file is written and read a chunk at a time and never sits whole in memory.
 */
@Injectable()
export class FilesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** A new, incomplete (invisible) file. */
  async create(f: { id: string; userId: string; purpose: string; filename: string }): Promise<void> {
    await this.db.query('insert into batch_files (id, user_id, purpose, filename) values ($1, $2, $3, $4)', [f.id, f.userId, f.purpose, f.filename]);
  }

  async appendChunk(fileId: string, seq: number, data: Uint8Array): Promise<void> {
    await this.db.query('insert into batch_file_chunks (file_id, seq, data) values ($1, $2, $3)', [fileId, seq, data]);
  }

  /** Makes a written file visible. */
  async complete(fileId: string, bytes: number, lines: number): Promise<void> {
    await this.db.query('update batch_files set bytes = $2, line_count = $3, complete = true where id = $1', [fileId, bytes, lines]);
  }

  /** Deletes a file and its content (chunks cascade). */
  async remove(fileId: string): Promise<void> {
    await this.db.query('delete from batch_files where id = $1', [fileId]);
  }

  /** A complete file of this user, else undefined (another user's file is not found). */
  async find(userId: string, id: string): Promise<FileRow | undefined> {
    const r = await this.db.query<FileRow>(`select ${COLUMNS} from batch_files where id = $1 and user_id = $2 and complete`, [id, userId]);
    return r.rows[0];
  }

  /** One page (`limit + 1` rows tell whether there is more), ordered by creation. */
  async list(userId: string, q: FileListQuery): Promise<FileRow[]> {
    const params: unknown[] = [userId];
    let where = 'user_id = $1 and complete';
    if (q.purpose) {
      params.push(q.purpose);
      where += ` and purpose = $${params.length}`;
    }
    const dir = q.order === 'asc' ? 'asc' : 'desc';
    if (q.after) {
      params.push(q.after);
      const cmp = dir === 'asc' ? '>' : '<';
      where += ` and (created_at, id) ${cmp} (select created_at, id from batch_files where id = $${params.length})`;
    }
    params.push(q.limit + 1);
    const r = await this.db.query<FileRow>(`select ${COLUMNS} from batch_files where ${where} order by created_at ${dir}, id ${dir} limit $${params.length}`, params);
    return r.rows;
  }

  /** The content, one chunk at a time. */
  async *chunks(fileId: string): AsyncGenerator<Buffer> {
    for (let seq = 0; ; seq++) {
      const r = await this.db.query<{ data: Uint8Array }>('select data from batch_file_chunks where file_id = $1 and seq = $2', [fileId, seq]);
      if (r.rows.length === 0) return;
      const d = r.rows[0].data;
      yield Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    }
  }

  /** The content's lines (without their `\n`), 1-based numbers; the last line may lack a newline. */
  async *lines(fileId: string): AsyncGenerator<{ line: number; text: string }> {
    let carry = Buffer.alloc(0);
    let line = 0;
    for await (const chunk of this.chunks(fileId)) {
      let buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      let nl: number;
      while ((nl = buf.indexOf(0x0a)) >= 0) {
        yield { line: ++line, text: buf.subarray(0, nl).toString('utf8').replace(/\r$/, '') };
        buf = buf.subarray(nl + 1);
      }
      carry = Buffer.from(buf);
    }
    if (carry.length > 0) yield { line: ++line, text: carry.toString('utf8').replace(/\r$/, '') };
  }
}
