import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type Database, type Queryable } from './database';

/**
 * Lets a service make several repository calls atomically without touching SQL: repositories
 * take an optional `Queryable`, and `run` hands them the transaction's.
 */
@Injectable()
export class TransactionRunner {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  run<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }
}
