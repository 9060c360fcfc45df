import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Database } from '@switchyard/database';

export interface UsageRecord {
  requestId: string;
  keyId: string;
  userId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  queueMs: number;
  generationMs: number;
  workerId: string;
  outcome: string;
  pool: string;
  createdAt: Date;
}

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

/** The usage ledger (one row per request id) and its per key/model/day aggregates. */
@Injectable()
export class UsageRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /**
   * Appends a ledger row and adds it to the day's aggregate, atomically. Returns false (and
   * changes nothing) when a row with this request id already exists.
   */
  record(u: UsageRecord): Promise<boolean> {
    const day = utcDay(u.createdAt);
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query(
        `insert into usage_ledger (request_id, key_id, user_id, model, prompt_tokens, completion_tokens,
                                   queue_ms, generation_ms, worker_id, outcome, pool, created_at, day)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::date)
         on conflict (request_id) do nothing
         returning request_id`,
        [u.requestId, u.keyId, u.userId, u.model, u.promptTokens, u.completionTokens, u.queueMs, u.generationMs, u.workerId, u.outcome, u.pool, u.createdAt, day],
      );
      if (inserted.rows.length === 0) return false;
      await tx.query(
        `insert into usage_daily (key_id, day, model, user_id, requests, prompt_tokens, completion_tokens)
         values ($1, $2::date, $3, $4, 1, $5, $6)
         on conflict (key_id, day, model) do update set
           requests = usage_daily.requests + 1,
           prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
           completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens`,
        [u.keyId, day, u.model, u.userId, u.promptTokens, u.completionTokens],
      );
      return true;
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
