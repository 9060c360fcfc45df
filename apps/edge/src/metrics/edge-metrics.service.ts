import { Inject, Injectable, Optional } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CatalogueModel } from '@switchyard/contracts';
import { LLM_LATENCY_BUCKETS, METRICS_REGISTRY } from '@switchyard/observability';
import { ModelCatalogueService } from '../models/model-catalogue.service';
import { routeLabel } from './request-labels';

/** The OpenAI routes every edge serves, and the kind of catalogue model each takes. */
const MODEL_ROUTES: ReadonlyArray<{ path: string; kind: CatalogueModel['kind'] }> = [
  { path: '/v1/chat/completions', kind: 'chat' },
  { path: '/v1/completions', kind: 'chat' },
  { path: '/v1/embeddings', kind: 'embedding' },
];
/** What a model route answers for a catalogue model: served, invalid, over a key's limits, over capacity. */
const MODEL_STATUSES = ['200', '400', '429', '503'];
/** What a model route answers before the model is known (`unknown`): invalid, no or a bad key, no such model. */
const UNKNOWN_MODEL_STATUSES = ['400', '401', '404'];
/** The edge's rejection reasons (the fixed list of apps/edge/README.md). */
const REJECTION_REASONS = [
  'auth',
  'bad_request',
  'model_not_found',
  'forbidden',
  'max_tokens',
  'context_length',
  'quota',
  'queue_full',
  'expected_wait',
  'model_unavailable',
  'rate_limit_requests',
  'rate_limit_tokens',
  'body_too_large',
];

/**
 * The edge's Prometheus metrics. Labels stay bounded: `route` is one of the API's routes,
 * `model` a catalogue name or "unknown", never a key or a request id.
 *
 * The counter series certain to be used exist at 0 from the start — each OpenAI model route × each
 * catalogue model it takes × 200/400/429/503, its 400/401/404 before a model is known, the model
 * list's 200, each model's token counters, each rejection reason — because rate() and increase()
 * only see a rise: a series born at 1 by its first request would hide that request. Bounded by the
 * catalogue (about 4 series per model and route); the duration histograms are left to their first event.
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
  readonly keptPlaces: Counter<'model'>;
  readonly lastTries: Counter<'model'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, @Optional() catalogue?: ModelCatalogueService) {
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
    this.keptPlaces = new Counter({
      name: 'switchyard_edge_kept_places_total',
      help: 'Requests admitted past the expected-wait bound on the place kept for a refusal told to come back, by model.',
      labelNames: ['model'],
      registers,
    });
    this.lastTries = new Counter({
      name: 'switchyard_edge_last_try_admissions_total',
      help: "Retries admitted as their client's last try (EDGE_LAST_RETRY_COUNT) with an expected wait past the bound, by model.",
      labelNames: ['model'],
      registers,
    });
    this.startAtZero(catalogue?.all() ?? []);
  }

  /** Creates the counter series certain to be used at 0 (see the class comment). */
  private startAtZero(models: readonly CatalogueModel[]): void {
    this.requests.inc({ route: routeLabel('/v1/models'), model: 'all', status: '200' }, 0);
    for (const r of MODEL_ROUTES) {
      const route = routeLabel(r.path);
      for (const status of UNKNOWN_MODEL_STATUSES) this.requests.inc({ route, model: 'unknown', status }, 0);
      for (const m of models) if (m.kind === r.kind) for (const status of MODEL_STATUSES) this.requests.inc({ route, model: m.name, status }, 0);
    }
    for (const m of models) {
      this.keptPlaces.inc({ model: m.name }, 0);
      this.lastTries.inc({ model: m.name }, 0);
      this.tokens.inc({ model: m.name, kind: 'prompt' }, 0);
      if (m.kind === 'chat') this.tokens.inc({ model: m.name, kind: 'completion' }, 0);
    }
    for (const reason of REJECTION_REASONS) this.rejections.inc({ reason }, 0);
  }
}
