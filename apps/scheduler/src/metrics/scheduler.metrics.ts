import { Inject, Injectable, Module, Optional } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type CatalogueModel, poolSchema } from '@switchyard/contracts';
import { FAST_BUCKETS, LLM_LATENCY_BUCKETS, METRICS_REGISTRY } from '@switchyard/observability';
import { MODEL_CATALOGUE } from '../config/catalogue';
import type { LoadReason } from '../policy';

/** Every load reason, so each (model, reason) series exists from the start (the compiler keeps it complete). */
const LOAD_REASONS = Object.keys({ pin: true, demand: true, aging: true, replicate: true, static: true } satisfies Record<LoadReason, true>);

/**
 * Every `switchyard_scheduler_*` metric. The counters and the load-time histogram of each catalogue
 * model (× reason, × pool) exist at 0 from the start: Prometheus' rate() and increase() only see a
 * rise, so a series born at 1 by its first event would hide that event (a first load, eviction, load
 * failure or stalled-job recovery). The label sets stay bounded by the catalogue.
 */
@Injectable()
export class SchedulerMetrics {
  readonly loads: Counter<'model' | 'reason'>;
  readonly evictions: Counter<'model' | 'reason'>;
  readonly loadFailures: Counter<'model'>;
  readonly loadDuration: Histogram<'model'>;
  readonly decisionDuration: Histogram;
  readonly queueDepth: Gauge<'pool' | 'model'>;
  readonly queueOldestWait: Gauge<'pool' | 'model'>;
  readonly queueArrivalRate: Gauge<'pool' | 'model'>;
  readonly modelResident: Gauge<'worker' | 'model'>;
  readonly workers: Gauge<'state'>;
  readonly stalledJobsRecovered: Counter<'pool' | 'model'>;
  readonly leader: Gauge;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, @Optional() @Inject(MODEL_CATALOGUE) catalogue: readonly CatalogueModel[] = []) {
    const registers = [registry];
    this.loads = new Counter({
      name: 'switchyard_scheduler_loads_total',
      help: 'Load commands sent to workers, by model and reason (pin, demand, aging, replicate, static).',
      labelNames: ['model', 'reason'],
      registers,
    });
    this.evictions = new Counter({
      name: 'switchyard_scheduler_evictions_total',
      help: 'Evict commands sent to workers, by model and the reason of the load they made room for.',
      labelNames: ['model', 'reason'],
      registers,
    });
    this.loadFailures = new Counter({
      name: 'switchyard_scheduler_load_failures_total',
      help: 'Loads that failed or went unanswered, by model.',
      labelNames: ['model'],
      registers,
    });
    this.loadDuration = new Histogram({
      name: 'switchyard_scheduler_model_load_seconds',
      help: 'Load times workers reported for successful loads, by model.',
      labelNames: ['model'],
      buckets: LLM_LATENCY_BUCKETS,
      registers,
    });
    this.decisionDuration = new Histogram({
      name: 'switchyard_scheduler_decision_duration_seconds',
      help: 'Time the placement policy took to decide one round.',
      buckets: FAST_BUCKETS,
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'switchyard_scheduler_queue_depth',
      help: 'Jobs waiting in a (pool, model) queue.',
      labelNames: ['pool', 'model'],
      registers,
    });
    this.queueOldestWait = new Gauge({
      name: 'switchyard_scheduler_queue_oldest_wait_seconds',
      help: 'Age of the oldest waiting job of a (pool, model) queue (0 when none waits).',
      labelNames: ['pool', 'model'],
      registers,
    });
    this.queueArrivalRate = new Gauge({
      name: 'switchyard_scheduler_queue_arrival_rate',
      help: 'New interactive jobs per second on a (pool, model) queue (bulk excluded), smoothed over SCHEDULER_RATE_TAU_MS.',
      labelNames: ['pool', 'model'],
      registers,
    });
    this.modelResident = new Gauge({
      name: 'switchyard_scheduler_model_resident',
      help: '1 when the worker holds the model (loaded, as last reported), else 0.',
      labelNames: ['worker', 'model'],
      registers,
    });
    this.workers = new Gauge({
      name: 'switchyard_scheduler_workers',
      help: 'Workers by state: connected (healthy stream), degraded (connected, Ollama failing), disconnected (known, not connected).',
      labelNames: ['state'],
      registers,
    });
    this.stalledJobsRecovered = new Counter({
      name: 'switchyard_scheduler_stalled_jobs_recovered_total',
      help: 'Jobs of a dead worker that the scheduler’s stalled-job check returned to their queue.',
      labelNames: ['pool', 'model'],
      registers,
    });
    this.leader = new Gauge({
      name: 'switchyard_scheduler_leader',
      help: '1 while this replica holds the scheduler lease (leads), 0 while it stands by.',
      registers,
    });
    this.startAtZero(catalogue.map((m) => m.name));
  }

  /** Creates each model's counter and histogram series at 0 (see the class comment). */
  private startAtZero(models: readonly string[]): void {
    for (const model of models) {
      for (const reason of LOAD_REASONS) {
        this.loads.inc({ model, reason }, 0);
        this.evictions.inc({ model, reason }, 0);
      }
      this.loadFailures.inc({ model }, 0);
      this.loadDuration.zero({ model });
      for (const pool of poolSchema.options) this.stalledJobsRecovered.inc({ pool, model }, 0);
    }
  }

  /** A standby decides nothing: it exports no queue, worker or residency figures of its own. */
  clearLeaderGauges(): void {
    for (const g of [this.queueDepth, this.queueOldestWait, this.queueArrivalRate, this.modelResident, this.workers]) g.reset();
  }
}

@Module({ providers: [SchedulerMetrics], exports: [SchedulerMetrics] })
export class SchedulerMetricsModule {}
