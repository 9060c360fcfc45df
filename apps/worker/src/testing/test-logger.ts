import { createLogger, type Logger } from '@switchyard/observability';

/** A pino logger for tests: silent unless WORKER_TEST_LOG_LEVEL is set (e.g. debug). */
export function testLogger(): Logger {
  return createLogger({ service: 'worker-test', level: process.env.WORKER_TEST_LOG_LEVEL ?? 'silent' });
}
