import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Database } from '@switchyard/database';
import type { BatchCaller } from '@switchyard/contracts';

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';
export type BatchEnding = 'cancelled' | 'expired';

export interface BatchRow {
  id: string;
  user_id: string;
  key_id: string;
  caller: BatchCaller;
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  ending: BatchEnding | null;
  metadata: Record<string, string> | null;
  errors: { object: 'list'; data: BatchLineError[] } | null;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: Date;
  expires_at: Date;
  in_progress_at: Date | null;
  finalizing_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  expired_at: Date | null;
  cancelling_at: Date | null;
  cancelled_at: Date | null;
}

export interface BatchLineError {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export interface RequestCounts {
  total: number;
  completed: number;
  failed: number;
}

/** Rows of `batch_batches`; every status change is a conditional update (several replicas may run). */
@Injectable()
export class BatchesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async insert(b: { id: string; caller: BatchCaller; endpoint: string; inputFileId: string; completionWindow: string; metadata: Record<string, string> | null; windowMs: number }): Promise<void> {
    await this.db.query(
      `insert into batch_batches (id, user_id, key_id, caller, endpoint, input_file_id, completion_window, status, metadata, expires_at)
       values ($1, $2, $3, $4, $5, $6, $7, 'validating', $8, now() + ($9 || ' milliseconds')::interval)`,
      [b.id, b.caller.userId, b.caller.keyId, JSON.stringify(b.caller), b.endpoint, b.inputFileId, b.completionWindow, b.metadata ? JSON.stringify(b.metadata) : null, String(b.windowMs)],
    );
  }

  async find(userId: string, id: string): Promise<BatchRow | undefined> {
    return (await this.db.query<BatchRow>('select * from batch_batches where id = $1 and user_id = $2', [id, userId])).rows[0];
  }

  async byId(id: string): Promise<BatchRow | undefined> {
    return (await this.db.query<BatchRow>('select * from batch_batches where id = $1', [id])).rows[0];
  }

  async list(userId: string, limit: number, after?: string): Promise<BatchRow[]> {
    const params: unknown[] = [userId];
    let where = 'user_id = $1';
    if (after) {
      params.push(after);
      where += ` and (created_at, id) < (select created_at, id from batch_batches where id = $2)`;
    }
    params.push(limit + 1);
    return (await this.db.query<BatchRow>(`select * from batch_batches where ${where} order by created_at desc, id desc limit $${params.length}`, params)).rows;
  }

  /** Batches the runner has work on (not in a final status). */
  async active(): Promise<BatchRow[]> {
    return (await this.db.query<BatchRow>("select * from batch_batches where status in ('validating', 'in_progress', 'finalizing', 'cancelling') order by created_at")).rows;
  }

  /** Claims the batch for `ms` (validating or finalizing) unless another replica holds it. */
  async claim(id: string, status: BatchStatus, ms: number): Promise<boolean> {
    const r = await this.db.query(
      `update batch_batches set claimed_until = now() + ($3 || ' milliseconds')::interval
       where id = $1 and status = $2 and (claimed_until is null or claimed_until < now())`,
      [id, status, String(ms)],
    );
    return r.rowCount > 0;
  }

  /** Moves the batch from one status to another (stamping `<to>_at`); false when it was not in `from`. */
  async transition(id: string, from: readonly BatchStatus[], to: BatchStatus, extra: { errors?: unknown; outputFileId?: string | null; errorFileId?: string | null } = {}): Promise<boolean> {
    const sets = [`status = $2`, `${to}_at = coalesce(${to}_at, now())`, 'claimed_until = null'];
    const params: unknown[] = [id, to, [...from]];
    if (extra.errors !== undefined) {
      params.push(JSON.stringify(extra.errors));
      sets.push(`errors = $${params.length}`);
    }
    if (extra.outputFileId !== undefined) {
      params.push(extra.outputFileId);
      sets.push(`output_file_id = $${params.length}`);
    }
    if (extra.errorFileId !== undefined) {
      params.push(extra.errorFileId);
      sets.push(`error_file_id = $${params.length}`);
    }
    const r = await this.db.query(`update batch_batches set ${sets.join(', ')} where id = $1 and status = any($3::text[])`, params);
    return r.rowCount > 0;
  }

  /** Marks a running batch to be stopped (cancel or expiry). */
  async setEnding(id: string, ending: BatchEnding): Promise<boolean> {
    const r = await this.db.query(
      "update batch_batches set ending = $2 where id = $1 and ending is null and status in ('validating', 'in_progress', 'cancelling')",
      [id, ending],
    );
    return r.rowCount > 0;
  }

  async counts(id: string): Promise<RequestCounts> {
    const r = await this.db.query<{ state: string; n: number }>('select state, count(*)::bigint as n from batch_lines where batch_id = $1 group by state', [id]);
    const c: RequestCounts = { total: 0, completed: 0, failed: 0 };
    for (const row of r.rows) {
      const n = Number(row.n);
      c.total += n;
      if (row.state === 'done') c.completed += n;
      if (row.state === 'failed' || row.state === 'expired') c.failed += n;
    }
    return c;
  }
}
