import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import { DATABASE, type Database } from '@switchyard/database';
import type { CatalogueModel } from '@switchyard/contracts';
import { METRICS_REGISTRY } from '@switchyard/observability';
import { CATALOGUE } from '../config/batch-config.module';

export const BATCH_STATUSES = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'] as const;

/** `switchyard_batch_*`: batches by status, lines done/failed per model, lines pending per model. */
@Injectable()
export class BatchMetrics {
  private readonly done: Counter<'model'>;
  private readonly failed: Counter<'model'>;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(DATABASE) db: Database,
    @Inject(CATALOGUE) catalogue: readonly CatalogueModel[],
  ) {
    const models = catalogue.map((m) => m.name);
    new Gauge({
      name: 'switchyard_batch_batches',
      help: 'Batches by status (all users).',
      labelNames: ['status'],
      registers: [registry],
      async collect() {
        const r = await db.query<{ status: string; n: number }>('select status, count(*)::bigint as n from batch_batches group by status');
        for (const s of BATCH_STATUSES) this.set({ status: s }, 0);
        for (const row of r.rows) this.set({ status: row.status }, Number(row.n));
      },
    });
    new Gauge({
      name: 'switchyard_batch_soonest_expiry_seconds',
      help: 'Seconds until the soonest deadline (expires_at) of a batch still running; absent when none runs.',
      registers: [registry],
      async collect() {
        const r = await db.query<{ at: number | null }>(
          "select extract(epoch from min(expires_at))::bigint as at from batch_batches where status in ('validating', 'in_progress', 'finalizing')",
        );
        const at = r.rows[0]?.at;
        this.reset();
        if (at !== null && at !== undefined) this.set(Math.max(0, Number(at) - Date.now() / 1000));
      },
    });
    new Gauge({
      name: 'switchyard_batch_lines_pending',
      help: 'Lines of running batches not answered yet (waiting for their window, or queued), per model.',
      labelNames: ['model'],
      registers: [registry],
      async collect() {
        const r = await db.query<{ model: string; n: number }>(
          "select model, count(*)::bigint as n from batch_lines where state in ('pending', 'queued') group by model",
        );
        this.reset();
        for (const m of models) this.set({ model: m }, 0);
        for (const row of r.rows) this.set({ model: row.model }, Number(row.n));
      },
    });
    this.done = new Counter({ name: 'switchyard_batch_lines_done_total', help: 'Batch lines answered with a response, per model.', labelNames: ['model'], registers: [registry] });
    this.failed = new Counter({ name: 'switchyard_batch_lines_failed_total', help: 'Batch lines that ended in the error file, per model.', labelNames: ['model'], registers: [registry] });
    for (const m of models) {
      this.done.inc({ model: m }, 0);
      this.failed.inc({ model: m }, 0);
    }
  }

  lineDone(model: string): void {
    this.done.inc({ model });
  }

  lineFailed(model: string, n = 1): void {
    this.failed.inc({ model }, n);
  }
}
