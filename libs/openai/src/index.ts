export * from './openai-error';
export * from './parse-request';
export * from './translation';
export * from './renderers';
export * from './response-ids';
