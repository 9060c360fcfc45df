import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ReadinessService } from '@switchyard/observability';
import { DATABASE, type Database } from './database';

/** Every service's database readiness check (`select 1`), and the database closed last on shutdown. Provide it beside `DATABASE`. */
@Injectable()
export class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    private readonly readiness: ReadinessService,
  ) {}

  onModuleInit(): void {
    this.readiness.register('database', async () => {
      await this.db.query('select 1');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}
