import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LLM_LATENCY_BUCKETS, METRICS_REGISTRY } from '@switchyard/observability';

/**
 * The edge's Prometheus metrics. Labels stay bounded: `route` is one of the API's routes,
 * `model` a catalogue name or "unknown", never a key or a request id.
 */
@Injectable()
export class EdgeMetrics {
  readonly requests: Counter<'route' | 'model' | 'status'>;
  readonly duration: Histogram<'route' | 'model'>;
  readonly timeToFirstToken: Histogram<'model'>;
  readonly queueWait: Histogram<'model'>;
  readonly tokens: Counter<'model' | 'kind'>;
  readonly inflightStreams: Gauge;
  readonly rejections: Counter<'reason'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'switchyard_edge_requests_total',
      help: 'API requests answered, by route, model and HTTP status.',
      labelNames: ['route', 'model', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: 'switchyard_edge_request_duration_seconds',
      help: 'Time from a request arriving to its last byte, by route and model.',
      labelNames: ['route', 'model'],
      buckets: LLM_LATENCY_BUCKETS,
      registers,
    });
    this.timeToFirstToken = new Histogram({
      name: 'switchyard_edge_time_to_first_token_seconds',
      help: 'Time from a request arriving to its first generated token reaching the edge.',
      labelNames: ['model'],
      buckets: LLM_LATENCY_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({
      name: 'switchyard_edge_queue_wait_seconds',
      help: 'Time jobs waited in their (pool, model) queue before a worker took them.',
      labelNames: ['model'],
      buckets: LLM_LATENCY_BUCKETS,
      registers,
    });
    this.tokens = new Counter({
      name: 'switchyard_edge_tokens_total',
      help: 'Tokens served, as the workers counted them, by model and kind (prompt | completion).',
      labelNames: ['model', 'kind'],
      registers,
    });
    this.inflightStreams = new Gauge({
      name: 'switchyard_edge_inflight_streams',
      help: 'Server-sent event streams open now.',
      registers,
    });
    this.rejections = new Counter({
      name: 'switchyard_edge_rejections_total',
      help: 'Requests refused before anything was queued, by reason.',
      labelNames: ['reason'],
      registers,
    });
  }
}
