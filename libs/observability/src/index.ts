export * from './logger';
export * from './request-context';
export * from './metrics.module';
export * from './health.module';
export * from './observability.module';
export * from './bootstrap';
export * from './buckets';
