export * from './database';
export * from './pglite.database';
export * from './postgres.database';
export * from './migrate';
export * from './open-database';
export * from './transaction-runner';
export * from './database-lifecycle';
