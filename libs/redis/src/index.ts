export * from './connection';
export * from './subscriber';
export * from './redis.module';
export * from './inference-queues';
export * from './requeue';
export * from './fair-share';
export * from './deferred-demand';
