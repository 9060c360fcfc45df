import { Inject, Injectable } from '@nestjs/common';
import type { UsageEntry } from '@switchyard/contracts';
import { DATABASE, type Database } from '@switchyard/database';

/** One ledger row: a worker's `UsageEntry`, with its creation time as a Date. */
export type UsageRecord = Omit<UsageEntry, 'createdAtMs'> & { createdAt: Date };

export interface UsageFilter {
  userId?: string;
  keyId?: string;
  /** Inclusive UTC days, YYYY-MM-DD. */
  fromDay?: string;
  toDay?: string;
}

/** One aggregate row: requests and tokens of one key and model on one UTC day. */
export interface UsageAggregate {
  day: string;
  keyId: string;
  userId: string;
  model: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

interface AggregateRow {
  day: string;
  key_id: string;
  user_id: string;
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
}

/** The UTC day (YYYY-MM-DD) of an instant. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The most ledger rows written in one transaction. */
const MAX_BATCH = 200;

interface Pending {
  u: UsageRecord;
  resolve(recorded: boolean): void;
  reject(err: unknown): void;
}

/**
 * The usage ledger (one row per request id) and its per key/model/day aggregates.
 *
 * Rows are written by group commit: the records that arrive while a write runs (or in the same
 * tick) go to the database together, in one transaction of two statements, instead of one
 * transaction per request. An idle ledger writes a lone record at once.
 */
@Injectable()
export class UsageRepository {
  private pending: Pending[] = [];
  private writing: Promise<void> | undefined;

  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /**
   * Appends a ledger row and adds it to the day's aggregate, atomically. Resolves false (and
   * changes nothing) when a row with this request id already exists.
   */
  record(u: UsageRecord): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ u, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    await new Promise((r) => setImmediate(r)); // what arrives together is written together
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        const inserted = await this.write(batch.map((p) => p.u));
        const seen = new Set<string>();
        for (const p of batch) {
          const first = !seen.has(p.u.requestId);
          seen.add(p.u.requestId);
          p.resolve(first && inserted.has(p.u.requestId));
        }
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.writing = undefined;
  }

  /** Writes records in one transaction; the request ids that were new. */
  private write(records: UsageRecord[]): Promise<Set<string>> {
    // A request id twice in one batch: the first record counts, as it would have one at a time.
    const firsts = new Map<string, UsageRecord>();
    for (const u of records) if (!firsts.has(u.requestId)) firsts.set(u.requestId, u);
    const rows = [...firsts.values()];
    return this.db.transaction(async (tx) => {
      const params: unknown[] = [];
      const values = rows.map((u) => {
        const day = utcDay(u.createdAt);
        const at = params.length;
        params.push(u.requestId, u.keyId, u.userId, u.model, u.promptTokens, u.completionTokens, u.queueMs, u.generationMs, u.workerId, u.outcome, u.pool, u.createdAt, day);
        return `(${Array.from({ length: 13 }, (_, i) => `$${at + i + 1}${i === 12 ? '::date' : ''}`).join(', ')})`;
      });
      const inserted = await tx.query<{ request_id: string }>(
        `insert into usage_ledger (request_id, key_id, user_id, model, prompt_tokens, completion_tokens,
                                   queue_ms, generation_ms, worker_id, outcome, pool, created_at, day)
         values ${values.join(', ')}
         on conflict (request_id) do nothing
         returning request_id`,
        params,
      );
      const ids = new Set(inserted.rows.map((r) => r.request_id));
      if (ids.size === 0) return ids;
      const daily = new Map<string, { keyId: string; day: string; model: string; userId: string; requests: number; prompt: number; completion: number }>();
      for (const u of rows) {
        if (!ids.has(u.requestId)) continue;
        const day = utcDay(u.createdAt);
        const k = `${u.keyId}\u0000${day}\u0000${u.model}`;
        const d = daily.get(k) ?? { keyId: u.keyId, day, model: u.model, userId: u.userId, requests: 0, prompt: 0, completion: 0 };
        d.requests += 1;
        d.prompt += u.promptTokens;
        d.completion += u.completionTokens;
        daily.set(k, d);
      }
      const dp: unknown[] = [];
      const dv = [...daily.values()].map((d) => {
        const at = dp.length;
        dp.push(d.keyId, d.day, d.model, d.userId, d.requests, d.prompt, d.completion);
        return `($${at + 1}, $${at + 2}::date, $${at + 3}, $${at + 4}, $${at + 5}::bigint, $${at + 6}::bigint, $${at + 7}::bigint)`;
      });
      await tx.query(
        `insert into usage_daily (key_id, day, model, user_id, requests, prompt_tokens, completion_tokens)
         values ${dv.join(', ')}
         on conflict (key_id, day, model) do update set
           requests = usage_daily.requests + excluded.requests,
           prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
           completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens`,
        dp,
      );
      return ids;
    });
  }

  /** Aggregates per key, model and day, oldest day first. */
  async aggregate(f: UsageFilter): Promise<UsageAggregate[]> {
    const res = await this.db.query<AggregateRow>(
      `select to_char(day, 'YYYY-MM-DD') as day, key_id, user_id, model, requests, prompt_tokens, completion_tokens
         from usage_daily
        where ($1::text is null or user_id = $1)
          and ($2::text is null or key_id = $2)
          and ($3::date is null or day >= $3::date)
          and ($4::date is null or day <= $4::date)
        order by day, key_id, model`,
      [f.userId ?? null, f.keyId ?? null, f.fromDay ?? null, f.toDay ?? null],
    );
    return res.rows.map((r) => ({
      day: r.day,
      keyId: r.key_id,
      userId: r.user_id,
      model: r.model,
      requests: Number(r.requests),
      promptTokens: Number(r.prompt_tokens),
      completionTokens: Number(r.completion_tokens),
    }));
  }

  /** Prompt + completion tokens of a key from `fromDay` (inclusive, UTC) on. */
  async tokensSince(keyId: string, fromDay: string): Promise<number> {
    const res = await this.db.query<{ tokens: number | null }>(
      `select sum(prompt_tokens + completion_tokens)::bigint as tokens
         from usage_daily where key_id = $1 and day >= $2::date`,
      [keyId, fromDay],
    );
    return Number(res.rows[0]?.tokens ?? 0);
  }

  /** Ledger rows of a request id (for tests and audits). */
  async countLedgerRows(requestId: string): Promise<number> {
    const res = await this.db.query<{ n: number }>('select count(*)::bigint as n from usage_ledger where request_id = $1', [requestId]);
    return Number(res.rows[0]?.n ?? 0);
  }
}
