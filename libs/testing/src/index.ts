export * from './openai-schema';
export * from './sim';
export * from './redis';
export * from './ports';
export * from './redis-server';
