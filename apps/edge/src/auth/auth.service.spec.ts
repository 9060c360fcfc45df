import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@switchyard/observability';
import { loadEdgeConfig } from '../config/edge.config';
import { authV1 } from '@switchyard/contracts';
import { OpenAIError } from '@switchyard/openai';
import type { RedisSubscriber } from '@switchyard/redis';
import { AuthClient, AuthUnavailableError, toVerdict, type Verdict } from './auth.client';
import { AuthService, bearerKey } from './auth.service';

const verdict = (keyId: string, userId = 'u1', extra: Partial<Verdict> = {}): Verdict => ({
  keyId,
  userId,
  policy: { allowedModels: [], allModels: true, requestsPerMinute: 0, tokensPerMinute: 0, tokenBudget: 0, priority: 'interactive', pool: undefined, share: 1 },
  budgetUsed: 0,
  expiresAtMs: 0,
  ...extra,
});

class FakeAuthClient extends AuthClient {
  calls = 0;
  release: (() => void) | undefined;
  gate: Promise<void> | undefined;
  constructor(public keys: Map<string, Verdict>) {
    super();
  }
  async verifyKey(apiKey: string): Promise<Verdict | null> {
    this.calls++;
    if (this.gate) await this.gate;
    if (apiKey === 'sk-down') throw new AuthUnavailableError('down');
    return this.keys.get(apiKey) ?? null;
  }
}

class FakeSubscriber {
  handlers = new Map<string, (m: string) => void>();
  reconnect: Array<() => void> = [];
  async subscribe(channel: string, h: (m: string) => void) {
    this.handlers.set(channel, h);
  }
  onReconnect(l: () => void) {
    this.reconnect.push(l);
  }
}

async function setup(keys: Array<[string, Verdict]>) {
  const client = new FakeAuthClient(new Map(keys));
  const sub = new FakeSubscriber();
  const config = loadEdgeConfig({ SWITCHYARD_PREFIX: 'unit', EDGE_AUTH_CACHE_TTL_MS: '30000' });
  const svc = new AuthService(client, sub as unknown as RedisSubscriber, config, createLogger({ service: 'edge', level: 'silent' }));
  await svc.onModuleInit();
  const publish = (event: object | string) => sub.handlers.get('unit:auth:events')?.(typeof event === 'string' ? event : JSON.stringify(event));
  return { client, sub, svc, publish };
}

test('a VerifyKey answer becomes the caller policy; an unset share (0) is the default, 1', () => {
  const answer = (policy: Partial<authV1.Policy>) =>
    toVerdict(authV1.VerifyKeyResponse.fromPartial({ principal: { keyId: 'k1', userId: 'u1' }, policy: { allModels: true, pool: 'performance', ...policy } }));
  const v = answer({ share: 2.5, priority: authV1.PriorityClass.PRIORITY_CLASS_BULK, tokenBudget: 100 });
  assert.deepEqual(v.policy, { allowedModels: [], allModels: true, requestsPerMinute: 0, tokensPerMinute: 0, tokenBudget: 100, priority: 'bulk', pool: 'performance', share: 2.5 });
  assert.equal(answer({}).policy.share, 1);
  assert.equal(answer({ share: 0.1 }).policy.share, 0.1);
});

test('bearer keys only', () => {
  assert.equal(bearerKey('Bearer sk-1'), 'sk-1');
  assert.equal(bearerKey('bearer   sk-1 '), 'sk-1');
  assert.equal(bearerKey('Basic abc'), undefined);
  assert.equal(bearerKey('Bearer'), undefined);
  assert.equal(bearerKey(undefined), undefined);
});

test('one VerifyKey for concurrent requests with one key, then the cache', async () => {
  const { client, svc } = await setup([['sk-a', verdict('ka')]]);
  const all = await Promise.all([1, 2, 3].map(() => svc.authenticate('Bearer sk-a')));
  assert.ok(all.every((c) => c.keyId === 'ka'));
  await svc.authenticate('Bearer sk-a');
  assert.equal(client.calls, 1);
});

test('401 for missing and unknown keys, 503 when auth is unreachable', async () => {
  const { svc } = await setup([]);
  await assert.rejects(svc.authenticate(undefined), (e: unknown) => e instanceof OpenAIError && e.status === 401 && e.code === 'invalid_api_key');
  await assert.rejects(svc.authenticate('Bearer sk-nope'), (e: unknown) => e instanceof OpenAIError && e.status === 401);
  await assert.rejects(svc.authenticate('Bearer sk-down'), (e: unknown) => e instanceof OpenAIError && e.status === 503);
});

test('events drop the verdicts they name (key, user) or all (unparsable, reconnect)', async () => {
  const { client, sub, svc, publish } = await setup([
    ['sk-a', verdict('ka', 'u1')],
    ['sk-b', verdict('kb', 'u2')],
  ]);
  await svc.authenticate('Bearer sk-a');
  await svc.authenticate('Bearer sk-b');
  publish({ type: 'key.revoked', keyId: 'ka' });
  assert.equal(svc.cache.size, 1);
  publish({ type: 'user.policy_changed', userId: 'u2' });
  assert.equal(svc.cache.size, 0);
  await svc.authenticate('Bearer sk-a');
  publish('not json');
  assert.equal(svc.cache.size, 0);
  await svc.authenticate('Bearer sk-a');
  sub.reconnect.forEach((l) => l());
  assert.equal(svc.cache.size, 0);
  assert.equal(client.calls, 4);
});

test('a verdict fetched while a revocation arrived is not cached', async () => {
  const { client, svc, publish } = await setup([['sk-a', verdict('ka')]]);
  client.gate = new Promise((r) => (client.release = r));
  const pending = svc.authenticate('Bearer sk-a');
  publish({ type: 'key.revoked', keyId: 'ka' });
  client.release?.();
  await pending;
  assert.equal(svc.cache.size, 0);
});

test('expired keys are refused even from the cache; local usage tightens the budget', async () => {
  const { svc } = await setup([
    ['sk-old', verdict('ko', 'u', { expiresAtMs: Date.now() - 1 })],
    ['sk-b', verdict('kb', 'u', { budgetUsed: 10 })],
  ]);
  await assert.rejects(svc.authenticate('Bearer sk-old'), (e: unknown) => e instanceof OpenAIError && e.status === 401);
  const ctx = await svc.authenticate('Bearer sk-b');
  svc.recordUsage(ctx, 25);
  assert.equal((await svc.authenticate('Bearer sk-b')).budgetUsed, 35);
});
