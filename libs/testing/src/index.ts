export * from './openai-schema';
export * from './sim';
