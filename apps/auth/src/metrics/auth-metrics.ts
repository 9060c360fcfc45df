import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram, type Registry } from 'prom-client';
import { FAST_BUCKETS, METRICS_REGISTRY } from '@switchyard/observability';

export type VerifyOutcome = 'ok' | 'unauthenticated' | 'error';
export type UsageOutcome = 'recorded' | 'duplicate';

/** The auth service's metrics. Labels are bounded: never a key, key id or request id. */
@Injectable()
export class AuthMetrics {
  readonly verifyTotal: Counter<'outcome'>;
  readonly verifyDuration: Histogram;
  readonly usageRecordsTotal: Counter<'outcome'>;
  readonly usageTokensTotal: Counter<'model' | 'kind'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.verifyTotal = new Counter({
      name: 'switchyard_auth_verify_total',
      help: 'VerifyKey calls by outcome (ok | unauthenticated | error).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.verifyDuration = new Histogram({
      name: 'switchyard_auth_verify_duration_seconds',
      help: 'Time to answer VerifyKey, in seconds.',
      buckets: FAST_BUCKETS,
      registers: [registry],
    });
    this.usageRecordsTotal = new Counter({
      name: 'switchyard_auth_usage_records_total',
      help: 'Usage entries written to the ledger (usage stream or RecordUsage) by outcome (recorded | duplicate).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.usageTokensTotal = new Counter({
      name: 'switchyard_auth_usage_tokens_total',
      help: 'Tokens recorded in the usage ledger, by model and kind (prompt | completion).',
      labelNames: ['model', 'kind'],
      registers: [registry],
    });
    for (const outcome of ['ok', 'unauthenticated']) this.verifyTotal.inc({ outcome }, 0);
    for (const outcome of ['recorded', 'duplicate']) this.usageRecordsTotal.inc({ outcome }, 0);
  }
}
