import { Inject, Injectable } from '@nestjs/common';
import { FOREIGN_KEY_VIOLATION, NotFoundError, sqlState } from '../common/errors';
import { DATABASE, type Database, type Queryable } from '@switchyard/database';
import { NO_OVERRIDES } from './policy';
import type { PolicyOverrides } from './policy.schema';
import { columnsToPolicy, POLICY_COLUMN_NAMES, policyToColumns, type PolicyColumns } from './policy-row';

type Subject = { table: 'user_policies'; column: 'user_id'; what: 'user' } | { table: 'key_policies'; column: 'key_id'; what: 'key' };

const USER: Subject = { table: 'user_policies', column: 'user_id', what: 'user' };
const KEY: Subject = { table: 'key_policies', column: 'key_id', what: 'key' };

const COLUMNS = POLICY_COLUMN_NAMES.join(', ');
const PLACEHOLDERS = POLICY_COLUMN_NAMES.map((_, i) => `$${i + 2}`).join(', ');
const UPDATES = POLICY_COLUMN_NAMES.map((c) => `${c} = excluded.${c}`).join(', ');

/** Stored policy overrides: per user (defaults for its keys) and per key. */
@Injectable()
export class PoliciesRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  getUserOverrides(userId: string, q: Queryable = this.db): Promise<PolicyOverrides> {
    return this.get(USER, userId, q);
  }

  getKeyOverrides(keyId: string, q: Queryable = this.db): Promise<PolicyOverrides> {
    return this.get(KEY, keyId, q);
  }

  /** Replaces the user's stored overrides. NotFoundError when the user does not exist. */
  setUserOverrides(userId: string, overrides: PolicyOverrides, q: Queryable = this.db): Promise<void> {
    return this.set(USER, userId, overrides, q);
  }

  /** Replaces the key's stored overrides. NotFoundError when the key does not exist. */
  setKeyOverrides(keyId: string, overrides: PolicyOverrides, q: Queryable = this.db): Promise<void> {
    return this.set(KEY, keyId, overrides, q);
  }

  private async get(s: Subject, id: string, q: Queryable): Promise<PolicyOverrides> {
    const res = await q.query<PolicyColumns>(`select ${COLUMNS} from ${s.table} where ${s.column} = $1`, [id]);
    return res.rows[0] ? columnsToPolicy(res.rows[0]) : { ...NO_OVERRIDES };
  }

  private async set(s: Subject, id: string, overrides: PolicyOverrides, q: Queryable): Promise<void> {
    try {
      await q.query(
        `insert into ${s.table} (${s.column}, ${COLUMNS}, updated_at) values ($1, ${PLACEHOLDERS}, now())
         on conflict (${s.column}) do update set ${UPDATES}, updated_at = now()`,
        [id, ...policyToColumns(overrides)],
      );
    } catch (err) {
      if (sqlState(err) === FOREIGN_KEY_VIOLATION) throw new NotFoundError(s.what);
      throw err;
    }
  }
}
