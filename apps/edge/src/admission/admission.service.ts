import { Inject, Injectable } from '@nestjs/common';
import { type CatalogueModel, type PriorityClass, type ResidencyEntry } from '@switchyard/contracts';
import type { DeferredOwner, Place, PlaceRequest } from '@switchyard/redis';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import type { AuthContext } from '../auth/auth.service';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';
import { Errors, OpenAIError } from '@switchyard/openai';
import { ModelCatalogueService } from '../models/model-catalogue.service';
import { InferenceProducer } from '../queue/inference.producer';
import { DEFAULT_COMPLETION_RESERVE } from './token-estimate';
import { RateLimitRepository, type RateLimitResult } from './rate-limit.repository';
import { ResidencyRepository } from '../models/residency.repository';
import { RetryEstimator, retryHeaders, type WaitEstimate } from './retry-estimator.service';
import { EdgeMetrics } from '../metrics/edge-metrics.service';
import type { ClientRetry } from './client-retry';

/** On an admitted interactive response: the wait for a GPU slot admission expected, ms (how good the estimate is can be measured). */
export const EXPECTED_WAIT_HEADER = 'x-switchyard-expected-wait-ms';

export type Endpoint = 'chat' | 'completions' | 'embeddings';

export interface AdmissionRequest {
  requestId: string;
  model: string;
  endpoint: Endpoint;
  /** Estimated tokens of the longest sequence the model must hold (the prompt; the longest input). */
  contextTokens: number;
  /** Estimated prompt tokens in all (what tokens-per-minute counts besides the answer). */
  promptTokens: number;
  maxTokens?: number;
  /** Names used in error messages: `messages` | `prompt` | `input`, `max_tokens` | `max_completion_tokens`. */
  promptParam: string;
  maxTokensParam?: string;
  /** What the client said of its retries and timeout (its SDK's headers), if anything. */
  client?: ClientRetry;
  /** A fingerprint of the request's content (client-retry.ts `requestFingerprint`), asked for only when a kept place is at stake. */
  fingerprint?: () => string;
}

/** What admission granted: where the job goes, and the headers its response carries. */
export interface Ticket {
  model: CatalogueModel;
  pool: 'shared' | 'performance';
  priority: PriorityClass;
  /** The job's BullMQ priority: its class and its fair-share place among the keys using the model. */
  bullPriority: number;
  /** Tokens counted against tokens-per-minute now; settled to the real count when the job ends. */
  reservedTokens: number;
  /**
   * The answer's token limit to run with: the client's, clamped to the room its prompt leaves in the
   * model's fixed window (as Ollama does: the answer stops there with finish_reason "length").
   */
  maxTokens?: number;
  headers: Record<string, string>;
}

/**
 * Adds an admitted request's job with its place in the queue claimed in the same step (one round
 * trip), for a ticket admission has otherwise granted; the place it got. A refused place adds
 * nothing. Given by the pipeline, which builds the job and opens its relay inbox.
 */
export type PlaceAndEnqueue = (ticket: Ticket, place: Omit<PlaceRequest, 'reserved'>) => Promise<Place>;

/**
 * Everything that decides, before anything is queued, whether a request may run: the model exists
 * and the key may use it, max_tokens and the context window, the key's token budget, the bound of
 * the model's queue (503) and the key's requests/tokens per minute (429). Refusals carry
 * `Retry-After`/`retry-after-ms` computed from the queue or the rate window.
 */
@Injectable()
export class AdmissionService {
  constructor(
    private readonly catalogue: ModelCatalogueService,
    private readonly producer: InferenceProducer,
    private readonly rateLimits: RateLimitRepository,
    private readonly estimator: RetryEstimator,
    private readonly residency: ResidencyRepository,
    @Inject(EDGE_CONFIG) private readonly config: EdgeConfig,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    private readonly metrics: EdgeMetrics,
  ) {}

  /** The model, if it exists and the key may use it (404 / 403 otherwise). */
  resolveModel(ctx: AuthContext, name: string): CatalogueModel {
    const model = this.catalogue.get(name);
    if (!model) throw Errors.modelNotFound(name);
    if (!mayUse(ctx, name)) throw Errors.modelNotAllowed(name);
    return model;
  }

  /**
   * Admits the request. With `enqueue`, a key without rate limits has its job's place claimed and
   * its job added in one step (`enqueue`), so that once this returns the job is queued; otherwise
   * the place is claimed here, side by side with the rate windows, and the ticket's `bullPriority`
   * is what the job must be added with.
   */
  async admit(ctx: AuthContext, req: AdmissionRequest, enqueue?: PlaceAndEnqueue): Promise<Ticket> {
    const model = this.resolveModel(ctx, req.model);
    const maxTokens = this.checkShape(model, req);
    const pool = ctx.policy.pool ?? model.pool;
    if (ctx.policy.tokenBudget > 0 && ctx.budgetUsed >= ctx.policy.tokenBudget) {
      throw new OpenAIError(
        429,
        `You exceeded your token budget (${ctx.policy.tokenBudget} tokens this period). Ask an administrator to raise it.`,
        'insufficient_quota',
        'insufficient_quota',
        null,
        {},
        'quota',
      );
    }

    const entry = pool === model.pool ? await this.residency.recent(model.name).catch(() => undefined) : undefined;
    refuseUnservable(model, pool, entry);
    const priority = ctx.policy.priority;
    const reservedTokens =
      req.endpoint === 'embeddings' ? req.promptTokens : req.promptTokens + (maxTokens ?? Math.min(DEFAULT_COMPLETION_RESERVE, model.maxOutputTokens));
    // Bulk work is patient: it is queued deeply (and durably, in Redis), not refused by expected wait.
    const est = await this.estimator.estimate(pool, model, entry);
    const bound = priority === 'bulk' ? this.config.EDGE_BULK_QUEUE_BOUND : this.config.EDGE_QUEUE_BOUND;
    const lastTry = priority !== 'bulk' && this.isLastTry(req.client);
    const waitBoundMs = lastTry ? this.lastTryBoundMs(req.client) : this.config.EDGE_MAX_EXPECTED_WAIT_MS;
    const maxAhead = priority === 'bulk' ? undefined : est.maxAhead(waitBoundMs);
    const rpm = ctx.policy.requestsPerMinute;
    const tpm = ctx.policy.tokensPerMinute;
    const placeReq = { priority, key: ctx.keyId, share: ctx.policy.share, maxAhead, bound };
    let owner: DeferredOwner | undefined;
    const whose = (): DeferredOwner => (owner ??= { keyId: ctx.keyId, fingerprint: req.fingerprint?.() });
    if (enqueue && rpm <= 0 && tpm <= 0) {
      const ticket: Ticket = { model, pool, priority, bullPriority: 0, reservedTokens, headers: {}, maxTokens };
      let place = await enqueue(ticket, placeReq);
      if (await this.honored(pool, model, place, whose, req.client)) place = await enqueue(ticket, { ...placeReq, maxAhead: undefined });
      else this.returned(pool, model, place, whose, req.client, lastTry, est);
      if (place.outcome !== 'admitted') throw await this.queueRefusal(whose(), req.requestId, pool, model, est, place, bound, maxAhead ?? 0, waitBoundMs);
      ticket.bullPriority = place.bullPriority;
      if (priority !== 'bulk') ticket.headers[EXPECTED_WAIT_HEADER] = String(est.toldMs(place.ahead));
      return ticket;
    }
    // The queue's place and the key's rate windows are claimed side by side: one round trip.
    const [placed, limited] = await Promise.allSettled([
      this.producer.claim(pool, model.name, placeReq),
      rpm > 0 || tpm > 0 ? this.rateLimits.admit(ctx.keyId, req.requestId, rpm, tpm, reservedTokens) : Promise.resolve(undefined),
    ]);
    const rate = limited.status === 'fulfilled' ? limited.value : undefined;
    let place = placed.status === 'fulfilled' ? placed.value : undefined;
    const kept = place !== undefined && (!rate || rate.allowed) && (await this.honored(pool, model, place, whose, req.client));
    if (kept) place = await this.producer.claim(pool, model.name, { ...placeReq, maxAhead: undefined }).catch(() => place);
    if (!place || place.outcome !== 'admitted') {
      if (rate?.allowed) void this.rateLimits.refund(ctx.keyId, req.requestId, reservedTokens).catch(() => undefined);
      if (!place) throw (placed as PromiseRejectedResult).reason;
      throw await this.queueRefusal(whose(), req.requestId, pool, model, est, place, bound, maxAhead ?? 0, waitBoundMs);
    }
    if (!rate && limited.status === 'rejected') {
      this.producer.unreserve(pool, model.name);
      throw limited.reason;
    }
    const headers: Record<string, string> = rate ? rateLimitHeaders(rate) : {};
    if (rate && !rate.allowed) {
      this.producer.unreserve(pool, model.name);
      throw this.rateLimited(rate, headers, reservedTokens);
    }
    if (!kept) this.returned(pool, model, place, whose, req.client, lastTry, est);
    if (priority !== 'bulk') headers[EXPECTED_WAIT_HEADER] = String(est.toldMs(place.ahead));
    return { model, pool, priority, bullPriority: place.bullPriority, reservedTokens, headers, maxTokens };
  }

  /**
   * Whether a request refused for its expected wait takes the place kept for an earlier refusal of
   * its queue whose time has come (libs/redis DeferredDemand: the returning client's, by count): it is
   * then admitted past the bound, as promised. A request its SDK calls a first try
   * (`x-stainless-retry-count: 0`) takes only the place kept for the same request (its key, its
   * content's fingerprint): it is either a first try, which would take a returning client's place,
   * or the retry of an application that retries by itself around an SDK made with `maxRetries: 0` (a
   * common pattern; the platform's overload test is one), which sends 0 on every try, and sends the
   * same request again. Without Redis to ask, it is refused as usual.
   */
  private async honored(pool: string, model: CatalogueModel, place: Place, whose: () => DeferredOwner, client: ClientRetry | undefined): Promise<boolean> {
    if (place.outcome !== 'wait') return false;
    const kept = await this.producer.honor(pool, model.name, client?.retriesMade === 0 ? whose() : undefined).catch(() => false);
    if (kept) this.metrics.keptPlaces.inc({ model: model.name });
    return kept;
  }

  /**
   * A retry admitted without a kept place (within the bound, or as its client's last try) takes its
   * own place (the same request's) out of the count, so that no other request is admitted past the
   * bound on it; a last try admitted past the bound is counted for operators. Best effort: without
   * Redis the place lapses after its grace.
   */
  private returned(pool: string, model: CatalogueModel, place: Place, whose: () => DeferredOwner, client: ClientRetry | undefined, lastTry: boolean, est: WaitEstimate): void {
    if (place.outcome !== 'admitted' || !client?.retriesMade) return;
    if (lastTry && est.waitMs(place.ahead) > this.config.EDGE_MAX_EXPECTED_WAIT_MS) this.metrics.lastTries.inc({ model: model.name });
    void this.producer.honor(pool, model.name, whose()).catch(() => false);
  }

  private isLastTry(client: ClientRetry | undefined): boolean {
    const n = this.config.EDGE_LAST_RETRY_COUNT;
    return n > 0 && client?.retriesMade !== undefined && client.retriesMade >= n;
  }

  /** A last try's bound on its expected wait: half its client's timeout (the estimate's margin), never below the usual bound. */
  private lastTryBoundMs(client: ClientRetry | undefined): number {
    const timeoutMs = Math.min(client?.timeoutMs ?? this.config.EDGE_REQUEST_TIMEOUT_MS, this.config.EDGE_REQUEST_TIMEOUT_MS);
    return Math.max(this.config.EDGE_MAX_EXPECTED_WAIT_MS, timeoutMs / 2);
  }

  /** 503 before anything is queued, saying when the request would be admitted. */
  private async queueRefusal(owner: DeferredOwner, requestId: string, pool: string, model: CatalogueModel, est: WaitEstimate, place: Place, bound: number, maxAhead: number, waitBoundMs: number): Promise<OpenAIError> {
    if (place.outcome === 'full') {
      return new OpenAIError(
        503,
        `The queue for ${model.name} is full (${place.queued} requests waiting); please retry later.`,
        'overloaded_error',
        'queue_full',
        null,
        retryHeaders(est.waitMs(place.queued - bound + 1)),
        'queue_full',
      );
    }
    const wait = est.waitMs(place.ahead);
    // Admitted once enough of the jobs ahead have started for the rest to fit within the bound, after
    // the refusals told to come back before it (they take the first places that free); its place is
    // then kept for it (see `honored`). Without Redis to record it, the refusal still goes out,
    // counting only the jobs ahead.
    const retryAfter = (outstanding: number) => Math.max(1, est.startedAfterMs(place.ahead - maxAhead + outstanding));
    const retryMs = await this.producer.defer(pool, model.name, owner, requestId, retryAfter).catch(() => retryAfter(0));
    return new OpenAIError(
      503,
      `${model.name} is overloaded: a request now would wait about ${Math.ceil(wait / 1000)} s for a GPU (${place.ahead} requests ahead), more than this server's bound of ${Math.ceil(waitBoundMs / 1000)} s. Please retry after ${Math.ceil(retryMs / 1000)} s.`,
      'overloaded_error',
      'expected_wait_exceeded',
      null,
      retryHeaders(retryMs),
      'expected_wait',
    );
  }

  /** The job ended: count what it really used instead of the reservation. */
  async settle(ctx: AuthContext, ticket: Ticket, requestId: string, actualTokens: number): Promise<void> {
    if (ctx.policy.tokensPerMinute <= 0) return;
    await this.rateLimits
      .settle(ctx.keyId, requestId, ticket.reservedTokens, actualTokens)
      .catch((err: unknown) => this.logger.warn({ err: String(err) }, 'rate window settle failed'));
  }

  async refund(ctx: AuthContext, ticket: Ticket, requestId: string): Promise<void> {
    if (ctx.policy.requestsPerMinute <= 0 && ctx.policy.tokensPerMinute <= 0) return;
    await this.rateLimits.refund(ctx.keyId, requestId, ticket.reservedTokens).catch(() => undefined);
  }

  /** Refuses what can never run; returns the answer's token limit to run with. */
  private checkShape(model: CatalogueModel, req: AdmissionRequest): number | undefined {
    if (req.endpoint !== 'embeddings' && model.kind === 'embedding') {
      throw Errors.badRequest(`The model '${model.name}' is an embedding model; use /v1/embeddings.`, 'model', 'model_not_supported');
    }
    if (req.maxTokens !== undefined) {
      // The operator's hard cap is a 400; anything else too large is clamped below, as Ollama does.
      const cap = this.config.EDGE_MAX_TOKENS_CAP;
      if (req.maxTokens > cap) {
        throw Errors.badRequest(
          `${req.maxTokensParam ?? 'max_tokens'} is too large: ${req.maxTokens}. This server accepts at most ${cap} completion tokens, whereas you provided ${req.maxTokens}.`,
          req.maxTokensParam ?? 'max_tokens',
          'invalid_value',
          'max_tokens',
        );
      }
    }
    // Only a prompt that cannot fit on its own is refused; a limit beyond the room left is clamped.
    if (req.contextTokens >= model.contextWindow) {
      throw Errors.badRequest(
        `This model's maximum context length is ${model.contextWindow} tokens. However, your ${req.promptParam} alone needs about ${req.contextTokens} tokens. Please reduce the length of the ${req.promptParam}.`,
        req.promptParam,
        'context_length_exceeded',
        'context_length',
      );
    }
    if (req.maxTokens === undefined) return undefined;
    return Math.min(req.maxTokens, model.maxOutputTokens, model.contextWindow - req.contextTokens);
  }

  private rateLimited(r: RateLimitResult, headers: Record<string, string>, tokens: number): OpenAIError {
    const reqFull = r.requests.limit > 0 && r.requests.used >= r.requests.limit;
    if (r.tokens.retryMs === -1 && !reqFull) {
      return new OpenAIError(
        429,
        `Request too large: it needs about ${tokens} tokens but the key's limit is ${r.tokens.limit} tokens per minute. Reduce the prompt or max_tokens.`,
        'rate_limit_error',
        'request_too_large',
        null,
        headers,
        'rate_limit_tokens',
      );
    }
    const waitMs = Math.max(reqFull ? r.requests.retryMs : 0, r.tokens.retryMs > 0 ? r.tokens.retryMs : 0);
    const what = reqFull ? `requests per minute (limit ${r.requests.limit})` : `tokens per minute (limit ${r.tokens.limit}, used ${r.tokens.used})`;
    return new OpenAIError(
      429,
      `Rate limit reached for ${what}. Please try again in ${formatDuration(waitMs)}.`,
      'rate_limit_error',
      'rate_limit_exceeded',
      null,
      { ...headers, ...retryHeaders(waitMs) },
      reqFull ? 'rate_limit_requests' : 'rate_limit_tokens',
    );
  }
}

/**
 * A catalogue model that no GPU of its pool can hold, as the scheduler reports it (`entry`, for the
 * model's own pool), is refused at once (503, no Retry-After): queued, the request would wait until
 * the client gave up.
 */
function refuseUnservable(model: CatalogueModel, pool: string, entry: ResidencyEntry | undefined): void {
  if (entry?.servable !== false) return;
  const gb = (bytes: number | undefined) => `${Math.round((bytes ?? 0) / 1e9)} GB`;
  throw new OpenAIError(
    503,
    `The model ${model.name} needs about ${gb(entry.needBytes)} of GPU memory, more than the largest GPU serving pool '${pool}' has (${gb(entry.largestGpuBytes)}). Ask an administrator to add a larger GPU or remove the model from the catalogue.`,
    'api_error',
    'model_unavailable',
    'model',
    {},
    'model_unavailable',
  );
}

export function mayUse(ctx: AuthContext, model: string): boolean {
  return ctx.policy.allModels || ctx.policy.allowedModels.includes(model);
}

/** OpenAI's `x-ratelimit-*` headers for the limits a key has. */
export function rateLimitHeaders(r: RateLimitResult): Record<string, string> {
  const h: Record<string, string> = {};
  if (r.requests.limit > 0) {
    h['x-ratelimit-limit-requests'] = String(r.requests.limit);
    h['x-ratelimit-remaining-requests'] = String(Math.max(0, r.requests.limit - r.requests.used));
    h['x-ratelimit-reset-requests'] = formatDuration(r.requests.used >= r.requests.limit ? r.requests.retryMs || r.requests.resetMs : r.requests.resetMs);
  }
  if (r.tokens.limit > 0) {
    h['x-ratelimit-limit-tokens'] = String(r.tokens.limit);
    h['x-ratelimit-remaining-tokens'] = String(Math.max(0, r.tokens.limit - r.tokens.used));
    h['x-ratelimit-reset-tokens'] = formatDuration(r.tokens.retryMs > 0 ? r.tokens.retryMs : r.tokens.resetMs);
  }
  return h;
}

/** A duration as OpenAI writes it in `x-ratelimit-reset-*`: "120ms", "1.5s", "6m0s". */
export function formatDuration(ms: number): string {
  const v = Math.max(0, Math.round(ms));
  if (v < 1000) return `${v}ms`;
  const minutes = Math.floor(v / 60_000);
  const seconds = (v % 60_000) / 1000;
  const s = `${Number(seconds.toFixed(3))}s`;
  return minutes > 0 ? `${minutes}m${s}` : s;
}
