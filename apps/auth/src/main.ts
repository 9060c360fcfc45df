import 'reflect-metadata';
import { loadConfigOrExit } from '@switchyard/config';
import { createLogger, drainOnShutdown, exitOnFatalError } from '@switchyard/observability';
import { startAuthApp } from './auth-app';
import { loadAuthConfig } from './config/auth.config';

async function main() {
  const config = loadConfigOrExit(loadAuthConfig);
  const logger = createLogger({ service: 'auth', level: config.LOG_LEVEL });
  exitOnFatalError(logger);
  try {
    const running = await startAuthApp(config, logger);
    drainOnShutdown(running.app);
    logger.info({ url: running.httpUrl, grpc: running.grpcAddress, docs: `${running.httpUrl}/admin/docs` }, 'auth ready');
  } catch (err) {
    logger.fatal({ err }, 'auth failed to start');
    process.exit(1);
  }
}

void main();
