import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Database } from '@switchyard/database';
import type { InferenceJob } from '@switchyard/contracts';

/** How a line's result is rendered into its response body. */
export interface LineRender {
  kind: 'chat' | 'text' | 'embed';
  /** Completions with `echo`: the prompt put before the answer. */
  echo?: string;
  /** Embeddings with `encoding_format: "base64"`. */
  base64?: boolean;
}

/** A line ready to run (`job`) or already failed (`status`, `body`). */
export type NewLine =
  | { line: number; customId: string; model: string; job: InferenceJob; render: LineRender }
  | { line: number; customId: string; model: string; status: number; body: object };

export interface QueuedLine {
  line: number;
  model: string;
  job: InferenceJob;
  enqueues: number;
  render: LineRender;
}

export interface FinishedLine {
  line: number;
  custom_id: string;
  state: 'done' | 'failed' | 'expired';
  status_code: number | null;
  body: object | null;
}

const INSERT_BATCH = 200;

/**
 * `batch_lines`: one row per input line. Results are recorded with conditional updates — only a
 * line still `queued` takes one — so every line is answered exactly once, whichever replica sees
 * its relay messages first.
 */
@Injectable()
export class LinesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Inserts lines (idempotent: a line already there is left alone). */
  async insert(batchId: string, lines: readonly NewLine[]): Promise<void> {
    for (let i = 0; i < lines.length; i += INSERT_BATCH) {
      const part = lines.slice(i, i + INSERT_BATCH);
      const values: string[] = [];
      const params: unknown[] = [batchId];
      for (const l of part) {
        const ok = 'job' in l;
        params.push(l.line, l.customId, l.model, ok ? 'pending' : 'failed', ok ? JSON.stringify(l.job) : null, ok ? JSON.stringify(l.render) : null, ok ? null : l.status, ok ? null : JSON.stringify(l.body));
        const n = params.length;
        values.push(`($1, $${n - 7}, $${n - 6}, $${n - 5}, $${n - 4}, $${n - 3}::jsonb, $${n - 2}::jsonb, $${n - 1}::integer, $${n}::jsonb, ${ok ? 'null' : 'now()'})`);
      }
      await this.db.query(
        `insert into batch_lines (batch_id, line, custom_id, model, state, job, render, status_code, body, finished_at) values ${values.join(', ')} on conflict do nothing`,
        params,
      );
    }
  }

  /** Models of the batch with lines not answered yet, in the order of their first line, with pending and queued counts. */
  async modelsInFlight(batchId: string): Promise<Array<{ model: string; pending: number; queued: number }>> {
    const r = await this.db.query<{ model: string; pending: number; queued: number }>(
      `select model, count(*) filter (where state = 'pending')::bigint as pending, count(*) filter (where state = 'queued')::bigint as queued
       from batch_lines where batch_id = $1 and state in ('pending', 'queued') group by model order by min(line)`,
      [batchId],
    );
    return r.rows.map((x) => ({ model: x.model, pending: Number(x.pending), queued: Number(x.queued) }));
  }

  /** Moves up to `n` pending lines of one model to `queued` and returns them (the caller enqueues their jobs). */
  async takePending(batchId: string, model: string, n: number): Promise<QueuedLine[]> {
    const r = await this.db.query<QueuedLine>(
      // The CTE is evaluated once: an IN (… LIMIT … FOR UPDATE) subquery may be re-run by the
      // planner and take far more than the window (20 lines queued for a window of 4).
      `with picked as (
         select line from batch_lines where batch_id = $1 and model = $2 and state = 'pending' order by line limit $3 for update skip locked
       )
       update batch_lines b set state = 'queued', enqueued_at = now(), enqueues = b.enqueues + 1
       from picked where b.batch_id = $1 and b.line = picked.line and b.state = 'pending'
       returning b.line, b.model, b.job, b.enqueues, b.render`,
      [batchId, model, n],
    );
    return r.rows.sort((a, b) => a.line - b.line);
  }

  /** Lines of the batch with a job that was enqueued (maybe gone since), at least `olderThanMs` ago. */
  async queued(batchId: string, olderThanMs = 0): Promise<QueuedLine[]> {
    return (
      await this.db.query<QueuedLine>(
        "select line, model, job, enqueues, render from batch_lines where batch_id = $1 and state = 'queued' and enqueued_at <= now() - ($2 || ' milliseconds')::interval order by line",
        [batchId, String(olderThanMs)],
      )
    ).rows;
  }

  async get(batchId: string, line: number): Promise<QueuedLine & { state: string } | undefined> {
    return (await this.db.query<QueuedLine & { state: string }>('select line, model, job, enqueues, render, state from batch_lines where batch_id = $1 and line = $2', [batchId, line])).rows[0];
  }

  async markReenqueued(batchId: string, line: number): Promise<void> {
    await this.db.query("update batch_lines set enqueues = enqueues + 1, enqueued_at = now() where batch_id = $1 and line = $2 and state = 'queued'", [batchId, line]);
  }

  /** Records a line's result if it is still queued; true for the one caller that recorded it. */
  async finish(batchId: string, line: number, state: 'done' | 'failed', status: number, body: object): Promise<boolean> {
    const r = await this.db.query(
      "update batch_lines set state = $3, status_code = $4, body = $5::jsonb, finished_at = now() where batch_id = $1 and line = $2 and state = 'queued'",
      [batchId, line, state, status, JSON.stringify(body)],
    );
    return r.rowCount > 0;
  }

  /** Ends a line that will not run (cancel, expiry) from `pending` or `queued`. */
  async stop(batchId: string, line: number, state: 'cancelled' | 'expired'): Promise<boolean> {
    const r = await this.db.query("update batch_lines set state = $3, finished_at = now() where batch_id = $1 and line = $2 and state in ('pending', 'queued')", [batchId, line, state]);
    return r.rowCount > 0;
  }

  /** Ends every pending line of the batch; returns how many per model. */
  async stopPending(batchId: string, state: 'cancelled' | 'expired'): Promise<Map<string, number>> {
    const r = await this.db.query<{ model: string }>("update batch_lines set state = $2, finished_at = now() where batch_id = $1 and state = 'pending' returning model", [batchId, state]);
    const out = new Map<string, number>();
    for (const row of r.rows) out.set(row.model, (out.get(row.model) ?? 0) + 1);
    return out;
  }

  /** Answered lines after `afterLine`, in order, one page at a time (for the output and error files). */
  async finishedPage(batchId: string, afterLine: number, limit: number): Promise<FinishedLine[]> {
    return (
      await this.db.query<FinishedLine>(
        "select line, custom_id, state, status_code, body from batch_lines where batch_id = $1 and line > $2 and state in ('done', 'failed', 'expired') order by line limit $3",
        [batchId, afterLine, limit],
      )
    ).rows;
  }

  async count(batchId: string): Promise<number> {
    return Number((await this.db.query<{ n: number }>('select count(*)::bigint as n from batch_lines where batch_id = $1', [batchId])).rows[0].n);
  }

  /** Removes every line of a batch (a batch whose input failed validation has none). */
  async deleteAll(batchId: string): Promise<void> {
    await this.db.query('delete from batch_lines where batch_id = $1', [batchId]);
  }
}
