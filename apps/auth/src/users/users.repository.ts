import { Inject, Injectable } from '@nestjs/common';
import { ConflictError, sqlState, UNIQUE_VIOLATION } from '../common/errors';
import { DATABASE, type Database, type Queryable } from '@switchyard/database';

export interface User {
  id: string;
  name: string;
  createdAt: Date;
}

interface UserRow {
  id: string;
  name: string;
  created_at: Date;
}

const toUser = (r: UserRow): User => ({ id: r.id, name: r.name, createdAt: r.created_at });

@Injectable()
export class UsersRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** Inserts a user; a taken name is a ConflictError. */
  async insert(user: { id: string; name: string }, q: Queryable = this.db): Promise<User> {
    try {
      const res = await q.query<UserRow>('insert into users (id, name) values ($1, $2) returning id, name, created_at', [user.id, user.name]);
      return toUser(res.rows[0]);
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) throw new ConflictError(`A user named '${user.name}' already exists.`, 'user_exists', 'name');
      throw err;
    }
  }

  /** Inserts the user unless one with that name exists; returns the user either way. */
  async ensure(user: { id: string; name: string }, q: Queryable = this.db): Promise<{ user: User; created: boolean }> {
    const res = await q.query<UserRow>(
      'insert into users (id, name) values ($1, $2) on conflict (name) do nothing returning id, name, created_at',
      [user.id, user.name],
    );
    if (res.rows.length > 0) return { user: toUser(res.rows[0]), created: true };
    const existing = await this.findByName(user.name, q);
    if (!existing) throw new Error('user vanished during ensure');
    return { user: existing, created: false };
  }

  async findById(id: string, q: Queryable = this.db): Promise<User | undefined> {
    const res = await q.query<UserRow>('select id, name, created_at from users where id = $1', [id]);
    return res.rows[0] ? toUser(res.rows[0]) : undefined;
  }

  async findByName(name: string, q: Queryable = this.db): Promise<User | undefined> {
    const res = await q.query<UserRow>('select id, name, created_at from users where name = $1', [name]);
    return res.rows[0] ? toUser(res.rows[0]) : undefined;
  }

  async list(filter: { name?: string; limit: number; offset: number }): Promise<User[]> {
    const res = await this.db.query<UserRow>(
      `select id, name, created_at from users
        where ($1::text is null or name = $1)
        order by created_at, id
        limit $2 offset $3`,
      [filter.name ?? null, filter.limit, filter.offset],
    );
    return res.rows.map(toUser);
  }
}
