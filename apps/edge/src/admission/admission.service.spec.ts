import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveCatalogue } from '@switchyard/contracts';
import { createLogger } from '@switchyard/observability';
import type { AuthContext } from '../auth/auth.service';
import { loadEdgeConfig } from '../config/edge.config';
import { OpenAIError } from '@switchyard/openai';
import type { ModelCatalogueService } from '../models/model-catalogue.service';
import type { InferenceProducer } from '../queue/inference.producer';
import { ServiceTimeTracker } from '../queue/service-time.tracker';
import type { ResidencyRepository } from '../models/residency.repository';
import type { Redis } from 'ioredis';
import type { DeferredOwner, Place, PlaceRequest } from '@switchyard/redis';
import { AdmissionService, EXPECTED_WAIT_HEADER, formatDuration, type AdmissionRequest } from './admission.service';
import type { RateLimitRepository, RateLimitResult } from './rate-limit.repository';
import { RetryEstimator, retryHeaders } from './retry-estimator.service';
import { Registry } from 'prom-client';
import { EdgeMetrics } from '../metrics/edge-metrics.service';

const models = resolveCatalogue({
  defaults: { context_window: 1000, pool: 'shared' },
  models: [
    { name: 'a', size_gb: 4, pinned: 0, kind: 'chat', owned_by: 'x', max_output_tokens: 100 },
    { name: 'e', size_gb: 1, pinned: 0, kind: 'embedding', owned_by: 'x' },
  ],
});

const ctx = (policy: Partial<AuthContext['policy']> = {}, extra: Partial<AuthContext> = {}): AuthContext => ({
  keyId: 'k',
  userId: 'u',
  cacheKey: 'h',
  budgetUsed: 0,
  expiresAtMs: 0,
  policy: { allowedModels: [], allModels: true, requestsPerMinute: 0, tokensPerMinute: 0, tokenBudget: 0, priority: 'bulk', pool: undefined, share: 1, ...policy },
  ...extra,
});

function setup(opts: { queued?: number; ahead?: number; rate?: Partial<RateLimitResult>; residency?: object; env?: Record<string, string>; kept?: number; keptFor?: DeferredOwner } = {}) {
  const config = loadEdgeConfig({ EDGE_QUEUE_BOUND: '10', EDGE_MAX_TOKENS_CAP: '50', EDGE_DEFAULT_SERVICE_MS: '2000', ...opts.env });
  const byName = new Map(models.map((m) => [m.name, m]));
  const catalogue = { get: (n: string) => byName.get(n) } as unknown as ModelCatalogueService;
  const depthCalls: string[] = [];
  const bounds: Array<number | undefined> = [];
  const claims: PlaceRequest[] = [];
  // Refusals told to come back, as DeferredDemand keeps them (its script: libs/redis deferred-demand.int-spec.ts).
  const deferred: number[] = [];
  // Places kept for refusals whose time has come: whose they are (libs/redis DeferredDemand matches them alike).
  const kept: DeferredOwner[] = Array.from({ length: opts.kept ?? 0 }, () => opts.keptFor ?? { keyId: 'other-key', fingerprint: 'other-request' });
  const owners: DeferredOwner[] = [];
  const producer = {
    honor: async (_p: string, _m: string, owner?: DeferredOwner): Promise<boolean> => {
      const i = kept.findIndex((k) => owner === undefined || (k.keyId === owner.keyId && (owner.fingerprint === undefined || k.fingerprint === owner.fingerprint)));
      return i >= 0 && kept.splice(i, 1).length === 1;
    },
    defer: async (_p: string, _m: string, owner: DeferredOwner, _id: string, retryAfterMs: (outstanding: number) => number): Promise<number> => {
      owners.push(owner);
      const now = Date.now();
      const ms = retryAfterMs(deferred.filter((t) => t > now).length);
      deferred.push(now + ms);
      return ms;
    },
    claim: async (pool: string, model: string, r: PlaceRequest): Promise<Place> => {
      depthCalls.push(`${pool}|${model}`);
      bounds.push(r.bound);
      claims.push(r);
      const queued = opts.queued ?? 0;
      const ahead = opts.ahead ?? queued;
      const outcome = r.bound !== undefined && queued >= r.bound ? 'full' : r.maxAhead !== undefined && ahead > r.maxAhead ? 'wait' : 'admitted';
      return { outcome, bullPriority: 7, ahead, queued };
    },
    unreserve: () => undefined,
  } as unknown as InferenceProducer;
  const rateCalls: Array<[number, number, number]> = [];
  const rate = {
    admit: async (_k: string, _r: string, rpm: number, tpm: number, tokens: number): Promise<RateLimitResult> => {
      rateCalls.push([rpm, tpm, tokens]);
      return {
        allowed: true,
        requests: { limit: rpm, used: 1, retryMs: 0, resetMs: 60000 },
        tokens: { limit: tpm, used: tokens, retryMs: 0, resetMs: 60000 },
        ...opts.rate,
      };
    },
  } as unknown as RateLimitRepository;
  const residency = { get: async () => opts.residency, recent: async () => opts.residency } as unknown as ResidencyRepository;
  const redis = { hget: async () => null } as unknown as Redis;
  const estimator = new RetryEstimator(residency, new ServiceTimeTracker(), redis, config);
  const metrics = new EdgeMetrics(new Registry());
  const svc = new AdmissionService(catalogue, producer, rate, estimator, residency, config, createLogger({ service: 'edge', level: 'silent' }), metrics);
  return { svc, depthCalls, rateCalls, bounds, claims, deferred, owners, metrics, keptLeft: () => kept.length };
}

const req = (extra: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  requestId: 'r1',
  model: 'a',
  endpoint: 'chat',
  contextTokens: 10,
  promptTokens: 10,
  promptParam: 'messages',
  ...extra,
});

const rejects = (status: number, code: string) => (e: unknown) => e instanceof OpenAIError && e.status === status && e.code === code;

test('pool and priority come from the key\'s policy; the model\'s pool otherwise', async () => {
  const { svc, depthCalls } = setup();
  const t1 = await svc.admit(ctx({ pool: 'performance' }), req());
  assert.equal(t1.pool, 'performance');
  assert.equal(t1.priority, 'bulk');
  const t2 = await svc.admit(ctx(), req());
  assert.equal(t2.pool, 'shared');
  assert.deepEqual(depthCalls, ['performance|a', 'shared|a']);
  assert.deepEqual(t2.headers, {}, 'no x-ratelimit headers for a key without limits');
  assert.equal(t2.bullPriority, 7, 'the job is added at the place its claim got');
});

test('with an enqueue step, a key without rate limits is placed and enqueued in one step; a key with limits is not', async () => {
  const { svc, depthCalls, rateCalls } = setup({ queued: 3, ahead: 2 });
  const steps: Array<{ model: string; place: PlaceRequest }> = [];
  const enqueue = async (t: { model: { name: string } }, place: PlaceRequest): Promise<Place> => {
    steps.push({ model: t.model.name, place });
    return { outcome: place.bound !== undefined && 3 >= place.bound ? 'full' : 'admitted', bullPriority: 9, ahead: 2, queued: 3 };
  };
  const t = await svc.admit(ctx({ priority: 'interactive', share: 2 }), req(), enqueue);
  assert.equal(t.bullPriority, 9);
  assert.ok(t.headers[EXPECTED_WAIT_HEADER] !== undefined, 'the expected wait is computed from the place the job got');
  assert.deepEqual(depthCalls, [], 'no separate claim');
  assert.equal(steps.length, 1);
  assert.deepEqual({ ...steps[0].place, maxAhead: undefined }, { priority: 'interactive', key: 'k', share: 2, maxAhead: undefined, bound: 10 });
  await assert.rejects(svc.admit(ctx({ priority: 'interactive' }), req(), async (tk, place) => enqueue(tk, { ...place, bound: 3 })), rejects(503, 'queue_full'));
  await svc.admit(ctx({ requestsPerMinute: 5 }), req(), enqueue);
  assert.equal(steps.length, 2, 'a key with rate limits is claimed beside its windows, then enqueued by the pipeline');
  assert.deepEqual(depthCalls, ['shared|a']);
  assert.equal(rateCalls.length, 1);
});

test('a max_tokens beyond the room the prompt leaves in the window is clamped to it, not refused', async () => {
  const { svc } = setup();
  const t = await svc.admit(ctx(), req({ contextTokens: 960, maxTokens: 50 }));
  assert.equal(t.maxTokens, 40);
  assert.equal((await svc.admit(ctx(), req({ contextTokens: 100, maxTokens: 50 }))).maxTokens, 50);
});

test('a bulk key is held to the deep bulk bound, an interactive key to the queue bound', async () => {
  const { svc, bounds } = setup({ queued: 50 });
  await svc.admit(ctx({ priority: 'bulk' }), req());
  await assert.rejects(svc.admit(ctx({ priority: 'interactive' }), req()), rejects(503, 'queue_full'));
  assert.deepEqual(bounds, [10_000, 10]);
});

test('cheap refusals come before any Redis work', async () => {
  const { svc, depthCalls, rateCalls } = setup();
  await assert.rejects(svc.admit(ctx(), req({ model: 'zzz' })), rejects(404, 'model_not_found'));
  await assert.rejects(svc.admit(ctx({ allModels: false, allowedModels: ['e'] }), req()), rejects(403, 'model_not_allowed'));
  await assert.rejects(svc.admit(ctx(), req({ model: 'e' })), rejects(400, 'model_not_supported'));
  await assert.rejects(svc.admit(ctx(), req({ maxTokens: 51 })), rejects(400, 'invalid_value'));
  await assert.rejects(svc.admit(ctx(), req({ contextTokens: 1000 })), rejects(400, 'context_length_exceeded'));
  await assert.rejects(svc.admit(ctx({ tokenBudget: 100 }, { budgetUsed: 100 }), req()), rejects(429, 'insufficient_quota'));
  assert.deepEqual(depthCalls, []);
  assert.deepEqual(rateCalls, []);
  await svc.admit(ctx(), req({ model: 'e', endpoint: 'embeddings' }));
});

test('tokens per minute reserve the prompt plus max_tokens (or a default reserve)', async () => {
  const { svc, rateCalls } = setup();
  await svc.admit(ctx({ tokensPerMinute: 1000 }), req({ maxTokens: 40 }));
  await svc.admit(ctx({ requestsPerMinute: 5 }), req());
  await svc.admit(ctx({ tokensPerMinute: 1000 }), req({ model: 'e', endpoint: 'embeddings' }));
  assert.deepEqual(rateCalls, [
    [0, 1000, 50],
    [5, 0, 110],
    [0, 1000, 10],
  ]);
});

test('a full queue: 503 with Retry-After from position, slots, service time and load time', async () => {
  // Not resident: load guess 2 s + 4 GB / 2 GB/s = 4 s; 11 - 10 + 1 = 2 jobs ahead × 2 s ÷ 4 slots = 1 s.
  await assert.rejects(setup({ queued: 11 }).svc.admit(ctx({ priority: 'interactive' }), req()), (e: unknown) => {
    assert.ok(e instanceof OpenAIError && e.status === 503 && e.code === 'queue_full');
    assert.deepEqual(e.headers, { 'retry-after': '5', 'retry-after-ms': '5000' });
    return true;
  });
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 1, updatedAt: 0 };
  await assert.rejects(setup({ queued: 10, residency: resident }).svc.admit(ctx({ priority: 'interactive' }), req()), (e: unknown) => {
    assert.ok(e instanceof OpenAIError);
    assert.equal(e.headers['retry-after-ms'], '2000');
    return true;
  });
});

test('an interactive request expected to wait past the bound gets 503 saying when it would be admitted', async () => {
  // Resident on one slot, 2 s a job, bound 3 s: one job ahead is the most (1 × 2 s); with 5 ahead,
  // 4 must start first: 8 s, and half a round more (9 s).
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 1, updatedAt: 0 };
  const s = setup({ queued: 5, residency: resident, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' } });
  await assert.rejects(s.svc.admit(ctx({ priority: 'interactive' }), req()), (e: unknown) => {
    assert.ok(e instanceof OpenAIError && e.status === 503 && e.code === 'expected_wait_exceeded' && e.type === 'overloaded_error');
    assert.match(e.message, /wait about 10 s for a GPU \(5 requests ahead\), more than this server's bound of 3 s/);
    assert.deepEqual(e.headers, { 'retry-after': '9', 'retry-after-ms': '9000' });
    assert.match(e.message, /retry after 9 s/);
    return true;
  });
  assert.equal(s.claims[0].maxAhead, 1);
  // A bulk key is never refused by expected wait: its work is patient.
  assert.equal((await s.svc.admit(ctx({ priority: 'bulk' }), req())).priority, 'bulk');
  assert.equal(s.claims[1].maxAhead, undefined);
  // With 4 slots the same queue fits: 5 × 2 s ÷ 4 = 2.5 s, and the admitted response says so.
  const wide = setup({ queued: 5, residency: { ...resident, slots: 4 }, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' } });
  const t = await wide.svc.admit(ctx({ priority: 'interactive' }), req());
  assert.equal(t.headers[EXPECTED_WAIT_HEADER], '2500');
});

test('a cold model held back by tail rotation: admitted on its queue as before, and told the wait for its round too', async () => {
  // No GPU holds it; its load is 4 s; the pool's round is 30 s and its oldest request has waited 10 s:
  // its first job starts when that one has waited the round, 20 s from now (the load within it).
  const held = { model: 'a', workers: [], loading: [], loadSeconds: 4, slots: 0, tailRoundMs: 30_000, updatedAt: 0 };
  const s = setup({ queued: 0, residency: { ...held, waitingSince: Date.now() - 10_000 }, env: { EDGE_MAX_EXPECTED_WAIT_MS: '10000' } });
  const t = await s.svc.admit(ctx({ priority: 'interactive' }), req());
  const told = Number(t.headers[EXPECTED_WAIT_HEADER]);
  assert.ok(Math.abs(told - 20_000) < 200, `told ${told} ms, about 20 s`);
  assert.equal(s.claims[0].maxAhead, 12, 'admission counts the queue and the load, not the round: (10 s − 4 s) × 4 slots ÷ 2 s');
  // None of its requests waiting and no room for it (the scheduler says so with the round alone):
  // this request starts the round, 30 s.
  const first = setup({ queued: 0, residency: held, env: { EDGE_MAX_EXPECTED_WAIT_MS: '10000' } });
  const toldFirst = Number((await first.svc.admit(ctx({ priority: 'interactive' }), req())).headers[EXPECTED_WAIT_HEADER]);
  assert.ok(Math.abs(toldFirst - 30_000) < 200, `told ${toldFirst} ms, about 30 s`);
  // Without a round in the entry (not held back, or none of its requests waiting and room for it:
  // a first request goes into free room at once): the load alone, as before.
  const plain = setup({ queued: 0, residency: { model: 'a', workers: [], loading: [], loadSeconds: 4, slots: 0, updatedAt: 0 } });
  assert.equal((await plain.svc.admit(ctx({ priority: 'interactive' }), req())).headers[EXPECTED_WAIT_HEADER], '4000');
});

/** Sends `n` interactive requests that are all refused for their expected wait; their `retry-after-ms`. */
async function refusalWaits(svc: AdmissionService, n: number): Promise<string[]> {
  const waits: string[] = [];
  for (let i = 0; i < n; i++) {
    await assert.rejects(svc.admit(ctx({ priority: 'interactive' }), req()), (e: unknown) => {
      assert.ok(e instanceof OpenAIError && e.code === 'expected_wait_exceeded');
      waits.push(e.headers['retry-after-ms']);
      return true;
    });
  }
  return waits;
}

test("Retry-After for expected wait: whole rounds, and a burst's refusals spread over the rounds in which places free", async () => {
  // Resident on 2 slots, 2 s a job, bound 3 s: at most 3 ahead. With 4 ahead one job must start first:
  // a whole round (2 s), not 1 s, since jobs started together end together, and half a round more.
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 2, updatedAt: 0 };
  const s = setup({ queued: 4, residency: resident, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' } });
  const waits = await refusalWaits(s.svc, 5);
  // Each refusal counts those told to come back before it: two places free per round.
  assert.deepEqual(waits, ['3000', '3000', '5000', '5000', '7000']);
});

test('return times are spaced on the slots the model could have once replicated, admission on the ones it has', async () => {
  // One copy of 2 slots now; the pool's GPUs could hold three (6 slots). Admission still counts the
  // 2 slots serving (at most 3 ahead), but six places free a round once the copies are up.
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 2, hostSlots: 6, updatedAt: 0 };
  const s = setup({ queued: 4, residency: resident, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' } });
  const waits = await refusalWaits(s.svc, 8);
  assert.equal(s.claims[0].maxAhead, 3);
  assert.deepEqual(waits, ['3000', '3000', '3000', '3000', '3000', '3000', '5000', '5000'], 'six places free a round');
});

test('a request that would be refused again takes the place kept for a refusal whose time has come, past the bound', async () => {
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 2, updatedAt: 0 };
  const s = setup({ queued: 4, residency: resident, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' }, kept: 1 });
  const t = await s.svc.admit(ctx({ priority: 'interactive' }), req());
  assert.equal(t.headers[EXPECTED_WAIT_HEADER], '4000', 'admitted, and told its real expected wait (4 ahead × 2 s ÷ 2 slots)');
  assert.deepEqual(
    s.claims.map((c) => c.maxAhead),
    [3, undefined],
    'refused by the bound (3 ahead at most), then claimed again without it',
  );
  await assert.rejects(s.svc.admit(ctx({ priority: 'interactive' }), req()), rejects(503, 'expected_wait_exceeded'), 'one kept place, one request past the bound');
  assert.equal((await s.metrics.keptPlaces.get()).values.find((v) => v.labels.model === 'a')?.value, 1, 'counted for operators');
  // With the one-step enqueue alike.
  const e = setup({ queued: 4, residency: resident, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' }, kept: 1 });
  const asked: Array<number | undefined> = [];
  const enqueue = async (_t: unknown, place: PlaceRequest): Promise<Place> => {
    asked.push(place.maxAhead);
    return { outcome: place.maxAhead !== undefined ? 'wait' : 'admitted', bullPriority: 3, ahead: 4, queued: 4 };
  };
  assert.equal((await e.svc.admit(ctx({ priority: 'interactive' }), req(), enqueue)).bullPriority, 3);
  assert.deepEqual(asked, [3, undefined]);
});

test("a first try (its SDK's x-stainless-retry-count: 0) takes no place kept for another key's refusal: that place is the returning client's", async () => {
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 2, updatedAt: 0 };
  const s = setup({ queued: 4, residency: resident, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' }, kept: 1 });
  await assert.rejects(s.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 0 } })), rejects(503, 'expected_wait_exceeded'));
  const t = await s.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 1 } }));
  assert.equal(t.headers[EXPECTED_WAIT_HEADER], '4000', 'the returning client has its place, past the bound');
  assert.equal((await s.metrics.keptPlaces.get()).values.find((v) => v.labels.model === 'a')?.value, 1);
});

test("a request that says it is a first try takes the place kept for the same request: an application that retries by itself with the SDK's retries off says 0 on every try", async () => {
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 2, updatedAt: 0 };
  const mine = { keyId: 'k', fingerprint: 'same-request' };
  const s = setup({ queued: 4, residency: resident, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' }, kept: 1, keptFor: mine });
  const firstTry = (keyId: string, fingerprint: string) => s.svc.admit(ctx({ priority: 'interactive' }, { keyId }), req({ client: { retriesMade: 0 }, fingerprint: () => fingerprint }));
  await assert.rejects(firstTry('someone-else', 'same-request'), rejects(503, 'expected_wait_exceeded'), 'not for another key');
  await assert.rejects(firstTry('k', 'next-request'), rejects(503, 'expected_wait_exceeded'), "not for its key's next request");
  assert.deepEqual(s.owners.at(-1), { keyId: 'k', fingerprint: 'next-request' }, 'a refusal is recorded with its key and fingerprint');
  const t = await firstTry('k', 'same-request');
  assert.equal(t.headers[EXPECTED_WAIT_HEADER], '4000', 'the refused request, sent again: admitted past the bound');
  assert.equal(s.keptLeft(), 0);
});

test('a retry admitted within the bound takes its own kept place out of the count, so no one else is admitted past the bound on it', async () => {
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 2, updatedAt: 0 };
  // 2 ahead × 2 s ÷ 2 slots = 2 s: within the 3 s bound.
  const s = setup({ queued: 2, residency: resident, env: { EDGE_MAX_EXPECTED_WAIT_MS: '3000' }, kept: 2, keptFor: { keyId: 'k', fingerprint: 'r' } });
  const retry = (keyId: string, fingerprint: string) => s.svc.admit(ctx({ priority: 'interactive' }, { keyId }), req({ client: { retriesMade: 1 }, fingerprint: () => fingerprint }));
  await retry('someone-else', 'r');
  await retry('k', 'another-request');
  await new Promise((r) => setImmediate(r));
  assert.equal(s.keptLeft(), 2, "another key's retry, or another request's, leaves this request's places alone");
  await retry('k', 'r');
  await new Promise((r) => setImmediate(r));
  assert.equal(s.keptLeft(), 1, 'its own place is taken');
  await s.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 0 }, fingerprint: () => 'r' }));
  await s.svc.admit(ctx({ priority: 'interactive' }), req());
  await new Promise((r) => setImmediate(r));
  assert.equal(s.keptLeft(), 1, 'a first try, or a client that does not say, leaves the places alone');
  assert.equal((await s.metrics.keptPlaces.get()).values.find((v) => v.labels.model === 'a')?.value ?? 0, 0, 'not counted as admitted past the bound');
});

test("a client's last try (its second retry) is admitted when its expected wait is within half its timeout, not refused and lost", async () => {
  const resident = { model: 'a', workers: ['w'], loading: [], loadSeconds: 9, slots: 2, updatedAt: 0 };
  // 40 ahead × 2 s ÷ 2 slots = 40 s: past the 3 s bound, within half a 600 s timeout.
  const env = { EDGE_MAX_EXPECTED_WAIT_MS: '3000', EDGE_QUEUE_BOUND: '100' };
  const s = setup({ queued: 40, residency: resident, env });
  await assert.rejects(s.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 1, timeoutMs: 600_000 } })), rejects(503, 'expected_wait_exceeded'), 'a first retry keeps to the bound');
  const t = await s.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 2, timeoutMs: 600_000 } }));
  assert.equal(t.headers[EXPECTED_WAIT_HEADER], '40000', 'admitted, told its real expected wait');
  assert.equal((await s.metrics.lastTries.get()).values.find((v) => v.labels.model === 'a')?.value, 1, 'counted for operators');
  // A client whose timeout is 60 s may wait 30 s: refused, and the message names that bound.
  await assert.rejects(s.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 2, timeoutMs: 60_000 } })), (e: unknown) => {
    assert.ok(e instanceof OpenAIError && e.status === 503);
    assert.match(e.message, /wait about 40 s .*bound of 30 s/);
    return true;
  });
  // The edge's own request timeout caps a client's (here 20 s: half is 10 s).
  const capped = setup({ queued: 40, residency: resident, env: { ...env, EDGE_REQUEST_TIMEOUT_MS: '20000' } });
  await assert.rejects(capped.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 2, timeoutMs: 600_000 } })), rejects(503, 'expected_wait_exceeded'));
  // A last try within the bound anyway is admitted as any request, and not counted.
  const within = setup({ queued: 1, residency: resident, env });
  await within.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 2, timeoutMs: 600_000 } }));
  assert.equal((await within.metrics.lastTries.get()).values.find((v) => v.labels.model === 'a')?.value ?? 0, 0);
  // EDGE_LAST_RETRY_COUNT=0: every try keeps to the bound.
  const off = setup({ queued: 40, residency: resident, env: { ...env, EDGE_LAST_RETRY_COUNT: '0' } });
  await assert.rejects(off.svc.admit(ctx({ priority: 'interactive' }), req({ client: { retriesMade: 2, timeoutMs: 600_000 } })), rejects(503, 'expected_wait_exceeded'));
});

test('a cold model whose load alone exceeds the bound still admits one round, so it is loaded and served', async () => {
  const cold = { model: 'a', workers: [], loading: [], loadSeconds: 90, slots: 0, updatedAt: 0 };
  const s = setup({ queued: 3, residency: cold });
  const t = await s.svc.admit(ctx({ priority: 'interactive' }), req());
  assert.equal(s.claims[0].maxAhead, 3, 'one round of the default 4 slots: 3 ahead and this one');
  assert.equal(t.headers[EXPECTED_WAIT_HEADER], String(90_000 + (3 * 2000) / 4));
  await assert.rejects(setup({ queued: 4, residency: cold }).svc.admit(ctx({ priority: 'interactive' }), req()), rejects(503, 'expected_wait_exceeded'));
});

test("the key's share goes with its claim", async () => {
  const s = setup();
  await s.svc.admit(ctx({ share: 3 }), req());
  assert.equal(s.claims[0].share, 3);
  assert.equal(s.claims[0].key, 'k');
});

test('a model no GPU of its pool can hold is refused at once with a clear 503, not queued', async () => {
  const unservable = { model: 'a', workers: [], loading: [], loadSeconds: 9, slots: 0, servable: false, needBytes: 51e9, largestGpuBytes: 40e9, updatedAt: 0 };
  const s = setup({ residency: unservable });
  await assert.rejects(s.svc.admit(ctx(), req()), (e: unknown) => {
    assert.ok(e instanceof OpenAIError && e.status === 503 && e.code === 'model_unavailable' && e.param === 'model');
    assert.match(e.message, /needs about 51 GB of GPU memory.*largest GPU serving pool 'shared' has \(40 GB\)/);
    assert.deepEqual(e.headers, {}, 'no Retry-After: retrying will not help');
    return true;
  });
  assert.deepEqual(s.depthCalls, [], 'nothing was queued');
  // Unknown servability (no worker reported yet) or servable: admitted as usual.
  for (const servable of [undefined, true]) {
    const ok = setup({ residency: { ...unservable, servable } });
    assert.equal((await ok.svc.admit(ctx(), req())).model.name, 'a');
  }
});

test('429s: requests, tokens, and a request larger than the whole limit', async () => {
  const full = setup({ rate: { allowed: false, requests: { limit: 2, used: 2, retryMs: 1500, resetMs: 1500 } } });
  await assert.rejects(full.svc.admit(ctx({ requestsPerMinute: 2 }), req()), (e: unknown) => {
    assert.ok(e instanceof OpenAIError && e.status === 429 && e.code === 'rate_limit_exceeded');
    assert.equal(e.headers['retry-after-ms'], '1500');
    assert.equal(e.headers['retry-after'], '2');
    assert.equal(e.headers['x-ratelimit-remaining-requests'], '0');
    assert.equal(e.headers['x-ratelimit-reset-requests'], '1.5s');
    return true;
  });
  const huge = setup({ rate: { allowed: false, tokens: { limit: 20, used: 0, retryMs: -1, resetMs: 0 } } });
  await assert.rejects(huge.svc.admit(ctx({ tokensPerMinute: 20 }), req()), rejects(429, 'request_too_large'));
});

test('durations as OpenAI writes them; Retry-After rounds up', () => {
  assert.equal(formatDuration(0), '0ms');
  assert.equal(formatDuration(250), '250ms');
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(60_000), '1m0s');
  assert.equal(formatDuration(83_250), '1m23.25s');
  assert.deepEqual(retryHeaders(1), { 'retry-after': '1', 'retry-after-ms': '1' });
  assert.deepEqual(retryHeaders(2001), { 'retry-after': '3', 'retry-after-ms': '2001' });
});

test('service time is an EWMA of busy time per model', () => {
  const t = new ServiceTimeTracker();
  assert.equal(t.get('a'), undefined);
  t.observe('a', 1000);
  assert.equal(t.get('a'), 1000);
  t.observe('a', 2000);
  assert.equal(t.get('a'), 1200);
  t.observe('a', Number.NaN);
  assert.equal(t.get('a'), 1200);
});
