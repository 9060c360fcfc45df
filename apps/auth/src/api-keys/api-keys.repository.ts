import { Inject, Injectable } from '@nestjs/common';
import { ConflictError, sqlState, UNIQUE_VIOLATION } from '../common/errors';
import type { PolicyOverrides } from '../policies/policy.schema';
import { columnsToPolicy, prefixedPolicyColumns, selectPolicyColumns } from '../policies/policy-row';
import { DATABASE, type Database, type Queryable } from '@switchyard/database';

export interface ApiKeyRecord {
  id: string;
  userId: string;
  userName: string;
  name: string;
  display: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  rotatedFrom: string | null;
}

/** What VerifyKey needs about a key, read in one query (indexed lookup by hash). */
export interface KeyCredential extends ApiKeyRecord {
  userOverrides: PolicyOverrides;
  keyOverrides: PolicyOverrides;
  /** Tokens the key used since the start of the UTC day / month given to the lookup. */
  tokensToday: number;
  tokensThisMonth: number;
}

export interface NewApiKey {
  id: string;
  userId: string;
  name: string;
  hash: Buffer;
  display: string;
  expiresAt: Date | null;
  rotatedFrom?: string | null;
}

interface KeyRow {
  id: string;
  user_id: string;
  user_name: string;
  name: string;
  display: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  rotated_from: string | null;
}

const KEY_COLUMNS = `k.id, k.user_id, u.name as user_name, k.name, k.display, k.created_at, k.expires_at, k.revoked_at, k.rotated_from`;

const toRecord = (r: KeyRow): ApiKeyRecord => ({
  id: r.id,
  userId: r.user_id,
  userName: r.user_name,
  name: r.name,
  display: r.display,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  rotatedFrom: r.rotated_from,
});

// One round trip for VerifyKey: the key, its user's name, both policy rows and its budget use
// (usage_daily's primary key starts with (key_id, day), so the sums are index range scans).
const CREDENTIAL_SQL = `
  select ${KEY_COLUMNS}, ${selectPolicyColumns('up', 'up_')}, ${selectPolicyColumns('kp', 'kp_')},
         (select coalesce(sum(d.prompt_tokens + d.completion_tokens), 0)::bigint
            from usage_daily d where d.key_id = k.id and d.day >= $2::date) as tokens_today,
         (select coalesce(sum(d.prompt_tokens + d.completion_tokens), 0)::bigint
            from usage_daily d where d.key_id = k.id and d.day >= $3::date) as tokens_this_month
    from api_keys k
    join users u on u.id = k.user_id
    left join user_policies up on up.user_id = k.user_id
    left join key_policies kp on kp.key_id = k.id
   where k.key_hash = $1`;

/** API keys. Only hashes are stored; nothing here ever sees or returns a plaintext key. */
@Injectable()
export class ApiKeysRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  async insert(key: NewApiKey, q: Queryable = this.db): Promise<ApiKeyRecord> {
    try {
      await q.query(
        `insert into api_keys (id, user_id, name, key_hash, display, expires_at, rotated_from)
         values ($1, $2, $3, $4, $5, $6, $7)`,
        [key.id, key.userId, key.name, key.hash, key.display, key.expiresAt, key.rotatedFrom ?? null],
      );
    } catch (err) {
      // Never say which key collided: the caller learns only that the key cannot be used.
      if (sqlState(err) === UNIQUE_VIOLATION) throw new ConflictError('This key cannot be used.', 'key_exists');
      throw err;
    }
    const created = await this.findById(key.id, q);
    if (!created) throw new Error('inserted key not found');
    return created;
  }

  async findById(id: string, q: Queryable = this.db): Promise<ApiKeyRecord | undefined> {
    const res = await q.query<KeyRow>(`select ${KEY_COLUMNS} from api_keys k join users u on u.id = k.user_id where k.id = $1`, [id]);
    return res.rows[0] ? toRecord(res.rows[0]) : undefined;
  }

  /**
   * The key with this SHA-256 hash (revoked and expired ones included), with its policy rows and
   * the tokens it used since `budgetDays.day` and `budgetDays.month` (YYYY-MM-DD, UTC).
   */
  async findCredentialByHash(hash: Buffer, budgetDays?: { day: string; month: string }, q: Queryable = this.db): Promise<KeyCredential | undefined> {
    const today = new Date().toISOString().slice(0, 10);
    const days = budgetDays ?? { day: today, month: `${today.slice(0, 7)}-01` };
    const res = await q.query<KeyRow & Record<string, unknown>>(CREDENTIAL_SQL, [hash, days.day, days.month]);
    const row = res.rows[0];
    if (!row) return undefined;
    return {
      ...toRecord(row),
      userOverrides: columnsToPolicy(prefixedPolicyColumns(row, 'up_')),
      keyOverrides: columnsToPolicy(prefixedPolicyColumns(row, 'kp_')),
      tokensToday: Number(row.tokens_today ?? 0),
      tokensThisMonth: Number(row.tokens_this_month ?? 0),
    };
  }

  async list(filter: { userId?: string; includeRevoked: boolean; limit: number; offset: number }): Promise<ApiKeyRecord[]> {
    const res = await this.db.query<KeyRow>(
      `select ${KEY_COLUMNS} from api_keys k join users u on u.id = k.user_id
        where ($1::text is null or k.user_id = $1) and ($2::boolean or k.revoked_at is null)
        order by k.created_at, k.id
        limit $3 offset $4`,
      [filter.userId ?? null, filter.includeRevoked, filter.limit, filter.offset],
    );
    return res.rows.map(toRecord);
  }

  /** Marks the key revoked (the first revocation time is kept). Undefined when there is no such key. */
  async revoke(id: string, q: Queryable = this.db): Promise<ApiKeyRecord | undefined> {
    const res = await q.query('update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1', [id]);
    if (res.rowCount === 0) return undefined;
    return this.findById(id, q);
  }

  async update(id: string, patch: { name?: string; expiresAt?: Date | null }, q: Queryable = this.db): Promise<ApiKeyRecord | undefined> {
    const res = await q.query(
      `update api_keys set
          name = case when $2::boolean then $3 else name end,
          expires_at = case when $4::boolean then $5::timestamptz else expires_at end
        where id = $1`,
      [id, patch.name !== undefined, patch.name ?? null, patch.expiresAt !== undefined, patch.expiresAt ?? null],
    );
    if (res.rowCount === 0) return undefined;
    return this.findById(id, q);
  }

  /** Makes a revoked or expired key usable again (used only for the launcher's demo key). */
  async reactivate(id: string, q: Queryable = this.db): Promise<void> {
    await q.query('update api_keys set revoked_at = null, expires_at = null where id = $1', [id]);
  }
}
