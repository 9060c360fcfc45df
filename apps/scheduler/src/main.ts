import 'reflect-metadata';
import { EXIT_CONFIG } from '@switchyard/config';
import { createHttpApp, createLogger, drainOnShutdown, exitOnFatalError } from '@switchyard/observability';
import { AppModule } from './app.module';
import { loadSchedulerCatalogue } from './config/catalogue';
import { loadSchedulerConfig } from './config/scheduler.config';
import { LeaderElection } from './leadership/leader-election.service';

async function main() {
  let config;
  let catalogue;
  try {
    config = loadSchedulerConfig();
    catalogue = loadSchedulerCatalogue(config);
  } catch (err) {
    // A bad environment or catalogue (missing, unreadable, invalid) is a configuration error.
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(EXIT_CONFIG);
  }
  const logger = createLogger({ service: 'scheduler', level: config.LOG_LEVEL });
  const app = await createHttpApp(AppModule.forRoot(config, catalogue, logger), { logger });
  drainOnShutdown(app);
  const leader = app.get(LeaderElection);
  // A leader that crashes hands its lease over: a standby leads within SCHEDULER_LEASE_RETRY_MS, not the lease's TTL.
  exitOnFatalError(logger, () => leader.abandon());
  await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(
    { url: await app.getUrl(), policy: config.SCHEDULER_POLICY, models: catalogue.length, replicaId: leader.replicaId, role: leader.isLeader ? 'leader' : 'standby' },
    'scheduler ready',
  );
}

void main();
