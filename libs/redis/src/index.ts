export * from './connection';
export * from './subscriber';
export * from './redis.module';
