import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { authV1, RedisKeys } from '@switchyard/contracts';
import { startAuthApp, type RunningAuthApp } from '../auth-app';
import type { AuthConfig } from '../config/auth.config';
import { adminHttp, AuthGrpcTestClient } from '../testing/test-clients';
import { silentLogger, TEST_DB_KINDS, testAuthConfig, testEnv } from '../testing/test-env';

interface IssuedKeyBody {
  key: string;
  id: string;
  userId: string;
  display: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 1,000 keys that are not ours: random, injection-shaped, very long, unicode, empty. */
function hostileKeys(): string[] {
  const shaped = [
    '',
    'sk-',
    'sk',
    ' ',
    "' OR '1'='1",
    "sk-' OR '1'='1",
    "sk-'; drop table api_keys; --",
    'sk-" OR ""="',
    'sk-%00',
    'sk-\u0000\u0000\u0000\u0000\u0000',
    'sk-\\x27',
    'sk-ключ-доступа-1234567890',
    'sk-🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑',
    'sk-\ud800\udc00\ud800',
    'sk-\u202e\u200b\ufeff',
    `sk-${'A'.repeat(32)}`,
    `sk-${'a'.repeat(512)}`,
    `sk-${'x'.repeat(100_000)}`,
    'x'.repeat(600_000),
    'Bearer sk-abc',
    'sk-${jndi:ldap://x}',
    'sk-<script>alert(1)</script>',
    'sk-../../../../etc/passwd',
    'sk-*',
    'sk-%',
    'sk-_',
  ];
  const out = [...shaped];
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  while (out.length < 1000) {
    const n = out.length % 3;
    if (n === 0) out.push(`sk-${Array.from(randomBytes(32), (b) => alphabet[b % 62]).join('')}`);
    else if (n === 1) out.push(randomBytes(1 + (out.length % 200)).toString('latin1'));
    else out.push(`sk-${randomBytes(24).toString('base64')}`);
  }
  return out;
}

for (const kind of TEST_DB_KINDS) {
  describe(`auth.v1 over gRPC (${kind})`, () => {
    let config: AuthConfig;
    let cleanup: () => Promise<void>;
    let running: RunningAuthApp;
    let grpc: AuthGrpcTestClient;
    let admin: ReturnType<typeof adminHttp>;
    let sub: Redis;
    const events: Record<string, unknown>[] = [];

    const createUser = async (name: string): Promise<string> => {
      const res = await admin<{ id: string }>('POST', '/admin/v1/users', { name });
      assert.equal(res.status, 201);
      return res.body.id;
    };
    const createKey = async (userId: string, extra: Record<string, unknown> = {}): Promise<IssuedKeyBody> => {
      const res = await admin<IssuedKeyBody>('POST', '/admin/v1/keys', { userId, ...extra });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body;
    };
    const waitForEvent = async (pred: (e: Record<string, unknown>) => boolean) => {
      for (let i = 0; i < 100; i++) {
        const found = events.find(pred);
        if (found) return found;
        await sleep(10);
      }
      assert.fail('auth event not received');
    };

    before(async () => {
      ({ config, cleanup } = await testAuthConfig(kind));
      sub = new Redis(testEnv.REDIS_URL);
      await sub.subscribe(RedisKeys.authEventsChannel(config.SWITCHYARD_PREFIX));
      sub.on('message', (_channel: string, message: string) => events.push(JSON.parse(message) as Record<string, unknown>));
      running = await startAuthApp(config, silentLogger());
      grpc = new AuthGrpcTestClient(running.grpcAddress);
      admin = adminHttp(running.httpUrl, config.SWITCHYARD_ADMIN_TOKEN);
    });

    after(async () => {
      grpc?.close();
      await running?.close();
      await sub?.quit();
      await cleanup?.();
    });

    test('a created key verifies, with its principal and policy', async () => {
      const userId = await createUser('alice');
      const key = await createKey(userId, { policy: { models: ['llama3.1:8b'], requestsPerMinute: 60, priority: 'bulk', pool: 'performance', share: 2.5 } });
      assert.match(key.key, /^sk-[0-9A-Za-z]{32}$/);
      const res = await grpc.verifyKey(key.key);
      assert.ok(res.ok, JSON.stringify(res));
      assert.deepEqual(res.value.principal, { userId, userName: 'alice', keyId: key.id, keyDisplay: key.display });
      assert.deepEqual(res.value.policy, {
        allowedModels: ['llama3.1:8b'],
        allModels: false,
        requestsPerMinute: 60,
        tokensPerMinute: 0,
        tokenBudget: 0,
        budgetPeriod: authV1.BudgetPeriod.BUDGET_PERIOD_DAY,
        priority: authV1.PriorityClass.PRIORITY_CLASS_BULK,
        pool: 'performance',
        share: 2.5,
      });
      assert.equal(res.value.expiresAtMs, 0);
      assert.ok(!key.display.includes(key.key.slice(6, -4)));
    });

    test('an unknown key is UNAUTHENTICATED', async () => {
      const res = await grpc.verifyKey(`sk-${'Z'.repeat(32)}`);
      assert.deepEqual(res, { ok: false, code: status.UNAUTHENTICATED, details: 'invalid API key' });
    });

    test('a revoked key stops verifying at once, even after being cached; edges are told on Redis', async () => {
      const userId = await createUser('bob');
      const key = await createKey(userId);
      assert.ok((await grpc.verifyKey(key.key)).ok);
      assert.ok((await grpc.verifyKey(key.key)).ok); // served from the cache
      const revoked = await admin<{ status: string }>('POST', `/admin/v1/keys/${key.id}/revoke`);
      assert.equal(revoked.status, 200);
      assert.equal(revoked.body.status, 'revoked');
      const res = await grpc.verifyKey(key.key);
      assert.equal(res.ok ? 'ok' : res.code, status.UNAUTHENTICATED);
      const event = await waitForEvent((e) => e.type === 'key.revoked' && e.keyId === key.id);
      assert.deepEqual(event, { type: 'key.revoked', keyId: key.id, userId });
    });

    test('an expired key does not verify, even while cached', async () => {
      const userId = await createUser('erin');
      const key = await createKey(userId, { expiresAt: new Date(Date.now() + 800).toISOString() });
      const ok = await grpc.verifyKey(key.key);
      assert.ok(ok.ok);
      assert.ok(ok.value.expiresAtMs > Date.now());
      await sleep(Math.max(0, ok.value.expiresAtMs - Date.now()) + 20);
      const res = await grpc.verifyKey(key.key);
      assert.equal(res.ok ? 'ok' : res.code, status.UNAUTHENTICATED);
    });

    test('1,000 random and injection-shaped keys all get UNAUTHENTICATED, and nothing breaks', async () => {
      const keys = hostileKeys();
      assert.equal(keys.length, 1000);
      const codes = new Map<number | string, number>();
      for (let i = 0; i < keys.length; i += 50) {
        const batch = await Promise.all(keys.slice(i, i + 50).map((k) => grpc.verifyKey(k)));
        for (const r of batch) codes.set(r.ok ? 'ok' : r.code, (codes.get(r.ok ? 'ok' : r.code) ?? 0) + 1);
      }
      assert.deepEqual([...codes], [[status.UNAUTHENTICATED, 1000]]);
      const metrics = await (await fetch(`${running.httpUrl}/metrics`)).text();
      assert.doesNotMatch(metrics, /switchyard_auth_verify_total\{outcome="error"\}/);
      const unauthenticated = Number(/switchyard_auth_verify_total\{outcome="unauthenticated"\} (\d+)/.exec(metrics)?.[1]);
      assert.ok(unauthenticated >= 1000, `unauthenticated count ${unauthenticated}`);
      assert.doesNotMatch(metrics, /sk-/);
      assert.ok((await fetch(`${running.httpUrl}/readyz`)).ok);
    });

    test('policy changes reach VerifyKey at once (key overrides and user defaults)', async () => {
      const userId = await createUser('carol');
      const key = await createKey(userId);
      const before = await grpc.verifyKey(key.key);
      assert.ok(before.ok && before.value.policy?.allModels === true);
      const patched = await admin('PATCH', `/admin/v1/keys/${key.id}/policy`, { requestsPerMinute: 7, models: ['qwen2.5:7b'] });
      assert.equal(patched.status, 200);
      const afterKey = await grpc.verifyKey(key.key);
      assert.ok(afterKey.ok);
      assert.equal(afterKey.value.policy?.share, 1, 'no share set: the default');
      assert.equal(afterKey.value.policy?.requestsPerMinute, 7);
      assert.deepEqual(afterKey.value.policy?.allowedModels, ['qwen2.5:7b']);
      await waitForEvent((e) => e.type === 'key.policy_changed' && e.keyId === key.id);
      const userPatch = await admin('PATCH', `/admin/v1/users/${userId}/policy`, { tokensPerMinute: 1000, requestsPerMinute: 1, share: 0.25 });
      assert.equal(userPatch.status, 200);
      const afterUser = await grpc.verifyKey(key.key);
      assert.ok(afterUser.ok);
      assert.equal(afterUser.value.policy?.tokensPerMinute, 1000); // inherited from the user
      assert.equal(afterUser.value.policy?.requestsPerMinute, 7); // the key's own override wins
      assert.equal(afterUser.value.policy?.share, 0.25);
      await waitForEvent((e) => e.type === 'user.policy_changed' && e.userId === userId);
    });

    test('a rotated key is replaced: the new one verifies, the old one no longer does', async () => {
      const userId = await createUser('dave');
      const key = await createKey(userId, { policy: { requestsPerMinute: 9 } });
      assert.ok((await grpc.verifyKey(key.key)).ok);
      const rotated = await admin<IssuedKeyBody & { previous: { status: string } }>('POST', `/admin/v1/keys/${key.id}/rotate`, {});
      assert.equal(rotated.status, 201);
      assert.notEqual(rotated.body.key, key.key);
      assert.equal(rotated.body.previous.status, 'revoked');
      const fresh = await grpc.verifyKey(rotated.body.key);
      assert.ok(fresh.ok);
      assert.equal(fresh.value.policy?.requestsPerMinute, 9);
      const old = await grpc.verifyKey(key.key);
      assert.equal(old.ok ? 'ok' : old.code, status.UNAUTHENTICATED);
    });

    test('usage recorded twice with the same request id counts once; budget use is reported', async () => {
      const userId = await createUser('frank');
      const key = await createKey(userId, { policy: { tokenBudget: 10_000, budgetPeriod: 'day' } });
      assert.equal((await grpc.verifyKey(key.key)).ok && (await grpc.verifyKey(key.key)).ok, true);
      const requestId = `req_${randomBytes(8).toString('hex')}`;
      const usage = { requestId, keyId: key.id, model: 'llama3.1:8b', promptTokens: 100, completionTokens: 50, queueMs: 3, generationMs: 900 };
      const first = await grpc.recordUsage(usage);
      const second = await grpc.recordUsage({ ...usage, promptTokens: 5000 });
      assert.deepEqual(first, { ok: true, value: { recorded: true } });
      assert.deepEqual(second, { ok: true, value: { recorded: false } });
      const report = await grpc.getUsage({ keyId: key.id });
      assert.ok(report.ok);
      assert.deepEqual(
        report.value.rows.map((r) => [r.keyId, r.model, r.requests, r.promptTokens, r.completionTokens]),
        [[key.id, 'llama3.1:8b', 1, 100, 50]],
      );
      const byUser = await grpc.getUsage({ userId });
      assert.ok(byUser.ok && byUser.value.rows.length === 1);
      const verdict = await grpc.verifyKey(key.key);
      assert.ok(verdict.ok);
      assert.equal(verdict.value.budgetUsed, 150);
      const http = await admin<{ totals: { requests: number } }>('GET', `/admin/v1/usage?userId=${userId}`);
      assert.equal(http.body.totals.requests, 1);
    });

    test('RecordUsage refuses bad input with INVALID_ARGUMENT and unknown keys with NOT_FOUND', async () => {
      const missingId = await grpc.recordUsage({ requestId: '', keyId: 'key_0000000000000000' });
      assert.equal(missingId.ok ? 'ok' : missingId.code, status.INVALID_ARGUMENT);
      const unknownKey = await grpc.recordUsage({ requestId: 'req_x1', keyId: 'key_0000000000000000' });
      assert.equal(unknownKey.ok ? 'ok' : unknownKey.code, status.NOT_FOUND);
      const badDay = await grpc.getUsage({ fromDay: '2026-02-30' });
      assert.equal(badDay.ok ? 'ok' : badDay.code, status.INVALID_ARGUMENT);
    });
  });
}

describe('demo key (SWITCHYARD_DEMO_KEY)', () => {
  test('is ensured at every boot, idempotently, with every model and no limits', async () => {
    const demoKey = `sk-demo-${randomBytes(12).toString('hex')}`;
    const { config, cleanup } = await testAuthConfig('pglite', { SWITCHYARD_DEMO_KEY: demoKey });
    try {
      for (let boot = 0; boot < 2; boot++) {
        const running = await startAuthApp(config, silentLogger());
        const grpc = new AuthGrpcTestClient(running.grpcAddress);
        try {
          const res = await grpc.verifyKey(demoKey);
          assert.ok(res.ok);
          assert.equal(res.value.principal?.userName, 'demo');
          assert.equal(res.value.policy?.allModels, true);
          assert.equal(res.value.policy?.requestsPerMinute, 0);
          assert.equal(res.value.policy?.tokenBudget, 0);
          const keys = await adminHttp(running.httpUrl, config.SWITCHYARD_ADMIN_TOKEN)<{ data: unknown[] }>('GET', '/admin/v1/keys');
          assert.equal(keys.body.data.length, 1);
          if (boot === 0) {
            // Even a revoked demo key comes back at the next boot: the launcher relies on it.
            const id = (keys.body.data[0] as { id: string }).id;
            await adminHttp(running.httpUrl, config.SWITCHYARD_ADMIN_TOKEN)('POST', `/admin/v1/keys/${id}/revoke`);
          }
        } finally {
          grpc.close();
          await running.close();
        }
      }
    } finally {
      await cleanup();
    }
  });
});
