import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { displayApiKey, generateApiKey, hashApiKey } from '../api-keys/api-key-secret';
import { AuthError } from '../common/errors';
import { newId } from '../common/ids';
import { PoliciesRepository } from '../policies/policies.repository';
import { effectivePolicy, NO_OVERRIDES } from '../policies/policy';
import { openTestDatabase, TEST_DB_KINDS } from '../testing/test-env';
import { UsageRepository, type UsageRecord } from '../usage/usage.repository';
import { UsersRepository } from '../users/users.repository';
import type { Database } from '@switchyard/database';
import { migrate, MIGRATIONS } from './migrations';

// Every repository test runs against both backends: embedded PGlite and the machine's PostgreSQL.
for (const kind of TEST_DB_KINDS) {
  describe(`repositories on ${kind}`, () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    let users: UsersRepository;
    let keys: ApiKeysRepository;
    let policies: PoliciesRepository;
    let usage: UsageRepository;

    before(async () => {
      ({ db, cleanup } = await openTestDatabase(kind));
      users = new UsersRepository(db);
      keys = new ApiKeysRepository(db);
      policies = new PoliciesRepository(db);
      usage = new UsageRepository(db);
    });
    after(async () => cleanup?.());

    const newKey = async (userId: string, extra: { expiresAt?: Date | null } = {}) => {
      const plaintext = generateApiKey();
      const record = await keys.insert({ id: newId('key'), userId, name: 'test', hash: hashApiKey(plaintext), display: displayApiKey(plaintext), expiresAt: extra.expiresAt ?? null });
      return { plaintext, record };
    };

    test('migrations are recorded and running them again changes nothing', async () => {
      assert.deepEqual(await migrate(db), []);
      const res = await db.query<{ id: number }>('select id from auth_schema_migrations order by id');
      assert.deepEqual(res.rows.map((r) => Number(r.id)), MIGRATIONS.map((m) => m.id));
    });

    test('users: insert, find by id and name, unique names, ensure is idempotent', async () => {
      const alice = await users.insert({ id: newId('usr'), name: 'alice' });
      assert.equal((await users.findById(alice.id))?.name, 'alice');
      assert.equal((await users.findByName('alice'))?.id, alice.id);
      await assert.rejects(users.insert({ id: newId('usr'), name: 'alice' }), (e: unknown) => e instanceof AuthError && e.status === 409);
      const first = await users.ensure({ id: newId('usr'), name: 'carol' });
      const again = await users.ensure({ id: newId('usr'), name: 'carol' });
      assert.equal(first.created, true);
      assert.equal(again.created, false);
      assert.equal(again.user.id, first.user.id);
      assert.deepEqual((await users.list({ name: 'carol', limit: 10, offset: 0 })).map((u) => u.id), [first.user.id]);
    });

    test('keys: stored by hash only, found by hash, hash is unique', async () => {
      const u = await users.insert({ id: newId('usr'), name: 'keys-owner' });
      const { plaintext, record } = await newKey(u.id);
      assert.equal(record.userName, 'keys-owner');
      assert.equal(record.display, displayApiKey(plaintext));
      const cred = await keys.findCredentialByHash(hashApiKey(plaintext));
      assert.equal(cred?.id, record.id);
      assert.deepEqual(cred?.keyOverrides, NO_OVERRIDES);
      assert.equal(await keys.findCredentialByHash(hashApiKey(`${plaintext}x`)), undefined);
      // Nothing in the table holds the plaintext.
      const raw = await db.query<Record<string, unknown>>('select * from api_keys where id = $1', [record.id]);
      assert.ok(!JSON.stringify(raw.rows[0]).includes(plaintext.slice(3)));
      await assert.rejects(
        keys.insert({ id: newId('key'), userId: u.id, name: '', hash: hashApiKey(plaintext), display: 'x', expiresAt: null }),
        (e: unknown) => e instanceof AuthError && e.code === 'key_exists' && !e.message.includes(plaintext),
      );
    });

    test('keys: revoke keeps the first time, update sets expiry and name, list filters', async () => {
      const u = await users.insert({ id: newId('usr'), name: 'revoker' });
      const a = await newKey(u.id);
      const b = await newKey(u.id);
      const revoked = await keys.revoke(a.record.id);
      assert.ok(revoked?.revokedAt instanceof Date);
      const again = await keys.revoke(a.record.id);
      assert.equal(again?.revokedAt?.getTime(), revoked?.revokedAt?.getTime());
      assert.equal(await keys.revoke('key_doesnotexist0000'), undefined);
      const at = new Date(Date.now() + 3_600_000);
      const updated = await keys.update(b.record.id, { expiresAt: at, name: 'renamed' });
      assert.equal(updated?.expiresAt?.getTime(), at.getTime());
      assert.equal(updated?.name, 'renamed');
      const cleared = await keys.update(b.record.id, { expiresAt: null });
      assert.equal(cleared?.expiresAt, null);
      assert.equal(cleared?.name, 'renamed');
      const all = await keys.list({ userId: u.id, includeRevoked: true, limit: 100, offset: 0 });
      const active = await keys.list({ userId: u.id, includeRevoked: false, limit: 100, offset: 0 });
      assert.deepEqual(all.map((k) => k.id).sort(), [a.record.id, b.record.id].sort());
      assert.deepEqual(active.map((k) => k.id), [b.record.id]);
    });

    test('policies: user defaults and key overrides round-trip and come with the credential', async () => {
      const u = await users.insert({ id: newId('usr'), name: 'policy-owner' });
      const { plaintext, record } = await newKey(u.id);
      await policies.setUserOverrides(u.id, { ...NO_OVERRIDES, models: ['llama3.1:8b', 'qwen2.5:7b'], requestsPerMinute: 60, tokenBudget: 1_000_000, budgetPeriod: 'month' });
      await policies.setKeyOverrides(record.id, { ...NO_OVERRIDES, requestsPerMinute: 5, priority: 'bulk', pool: 'performance', share: 2.5 });
      assert.deepEqual((await policies.getUserOverrides(u.id)).models, ['llama3.1:8b', 'qwen2.5:7b']);
      const cred = await keys.findCredentialByHash(hashApiKey(plaintext));
      assert.equal(cred?.userOverrides.requestsPerMinute, 60);
      assert.equal(cred?.userOverrides.tokenBudget, 1_000_000);
      assert.equal(cred?.userOverrides.budgetPeriod, 'month');
      assert.equal(cred?.keyOverrides.requestsPerMinute, 5);
      assert.equal(cred?.keyOverrides.pool, 'performance');
      assert.equal(cred?.keyOverrides.share, 2.5);
      assert.equal(cred?.userOverrides.share, null);
      assert.equal(cred?.keyOverrides.models, null);
      await policies.setKeyOverrides(record.id, { ...NO_OVERRIDES, models: 'all' });
      assert.equal((await policies.getKeyOverrides(record.id)).models, 'all');
      assert.equal((await policies.getKeyOverrides(record.id)).requestsPerMinute, null);
      await assert.rejects(policies.setKeyOverrides('key_doesnotexist0000', { ...NO_OVERRIDES }), (e: unknown) => e instanceof AuthError && e.status === 404);
    });

    test('migrating a database from before shares adds the column: stored policies inherit, so the share is 1', async () => {
      const old = await openTestDatabase(kind, MIGRATIONS.filter((m) => m.id < 2));
      try {
        const oldUsers = new UsersRepository(old.db);
        const oldKeys = new ApiKeysRepository(old.db);
        const u = await oldUsers.insert({ id: newId('usr'), name: 'from-before' });
        const k = await oldKeys.insert({ id: newId('key'), userId: u.id, name: '', hash: hashApiKey(generateApiKey()), display: 'sk-…', expiresAt: null });
        await old.db.query('insert into user_policies (user_id, requests_per_minute) values ($1, 60)', [u.id]);
        await old.db.query(`insert into key_policies (key_id, priority) values ($1, 'bulk')`, [k.id]);
        assert.deepEqual(await migrate(old.db), [2]);
        const repo = new PoliciesRepository(old.db);
        const [user, key] = [await repo.getUserOverrides(u.id), await repo.getKeyOverrides(k.id)];
        assert.deepEqual([user.requestsPerMinute, user.share, key.priority, key.share], [60, null, 'bulk', null]);
        assert.equal(effectivePolicy(user, key).share, 1);
        await repo.setKeyOverrides(k.id, { ...key, share: 0.5 });
        assert.equal((await repo.getKeyOverrides(k.id)).share, 0.5);
        await assert.rejects(old.db.query('update key_policies set share = 0 where key_id = $1', [k.id]));
      } finally {
        await old.cleanup();
      }
    });

    test('usage: recording the same request id twice counts once; aggregates per key, model and day', async () => {
      const u = await users.insert({ id: newId('usr'), name: 'usage-owner' });
      const { plaintext, record } = await newKey(u.id);
      const base: UsageRecord = {
        requestId: `req_${newId('key')}`,
        keyId: record.id,
        userId: u.id,
        model: 'llama3.1:8b',
        promptTokens: 10,
        completionTokens: 20,
        queueMs: 5,
        generationMs: 100,
        workerId: 'w1',
        outcome: 'ok',
        pool: 'shared',
        createdAt: new Date('2026-03-01T23:59:00Z'),
      };
      assert.equal(await usage.record(base), true);
      assert.equal(await usage.record({ ...base, promptTokens: 999 }), false);
      assert.equal(await usage.countLedgerRows(base.requestId), 1);
      await usage.record({ ...base, requestId: `${base.requestId}-2`, promptTokens: 1, completionTokens: 2 });
      await usage.record({ ...base, requestId: `${base.requestId}-3`, model: 'qwen2.5:7b', promptTokens: 3, completionTokens: 4 });
      await usage.record({ ...base, requestId: `${base.requestId}-4`, createdAt: new Date('2026-03-02T00:00:01Z'), promptTokens: 100, completionTokens: 0 });
      const rows = await usage.aggregate({ keyId: record.id });
      assert.deepEqual(
        rows.map((r) => [r.day, r.model, r.requests, r.promptTokens, r.completionTokens]),
        [
          ['2026-03-01', 'llama3.1:8b', 2, 11, 22],
          ['2026-03-01', 'qwen2.5:7b', 1, 3, 4],
          ['2026-03-02', 'llama3.1:8b', 1, 100, 0],
        ],
      );
      assert.equal((await usage.aggregate({ userId: u.id, fromDay: '2026-03-02' })).length, 1);
      assert.equal((await usage.aggregate({ userId: u.id, toDay: '2026-03-01' })).length, 2);
      assert.equal(await usage.tokensSince(record.id, '2026-03-01'), 11 + 22 + 3 + 4 + 100);
      assert.equal(await usage.tokensSince(record.id, '2026-03-02'), 100);
      assert.equal(await usage.tokensSince(record.id, '2026-04-01'), 0);
      // VerifyKey reads the budget use in the same query as the key.
      const cred = await keys.findCredentialByHash(hashApiKey(plaintext), { day: '2026-03-02', month: '2026-03-01' });
      assert.equal(cred?.tokensToday, 100);
      assert.equal(cred?.tokensThisMonth, 140);
    });

    test('usage: concurrent duplicates of one request id are recorded once', async () => {
      const u = await users.insert({ id: newId('usr'), name: 'usage-race' });
      const { record } = await newKey(u.id);
      const requestId = `req_${newId('key')}`;
      const rec: UsageRecord = { requestId, keyId: record.id, userId: u.id, model: 'm', promptTokens: 1, completionTokens: 1, queueMs: 0, generationMs: 0, workerId: '', outcome: 'ok', pool: 'shared', createdAt: new Date() };
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => usage.record(rec)));
      const recorded = results.filter((r) => r.status === 'fulfilled' && r.value).length;
      assert.equal(recorded, 1);
      const [row] = await usage.aggregate({ keyId: record.id });
      assert.equal(row.requests, 1);
    });

    test('usage: 500 records arriving at once (written together) each count once, in the right aggregate', async () => {
      const u = await users.insert({ id: newId('usr'), name: 'usage-burst' });
      const a = (await newKey(u.id)).record;
      const b = (await newKey(u.id)).record;
      const rec = (i: number): UsageRecord => ({
        requestId: `req_burst_${a.id}_${i % 450}`, // 50 ids come twice
        keyId: i % 2 === 0 ? a.id : b.id,
        userId: u.id,
        model: i % 3 === 0 ? 'qwen2.5:7b' : 'llama3.1:8b',
        promptTokens: 1,
        completionTokens: 2,
        queueMs: 0,
        generationMs: 0,
        workerId: 'w',
        outcome: 'ok',
        pool: 'shared',
        createdAt: new Date(i % 5 === 0 ? '2026-05-02T10:00:00Z' : '2026-05-01T10:00:00Z'),
      });
      const all = Array.from({ length: 500 }, (_, i) => rec(i));
      const results = await Promise.all(all.map((r) => usage.record(r)));
      assert.equal(results.filter(Boolean).length, 450, 'each request id recorded once');
      const expected = new Map<string, number>();
      all.slice(0, 450).forEach((r) => {
        const k = `${r.keyId} ${r.createdAt.toISOString().slice(0, 10)} ${r.model}`;
        expected.set(k, (expected.get(k) ?? 0) + 1);
      });
      const rows = [...(await usage.aggregate({ keyId: a.id })), ...(await usage.aggregate({ keyId: b.id }))];
      assert.deepEqual(new Map(rows.map((r) => [`${r.keyId} ${r.day} ${r.model}`, r.requests])), expected);
      assert.equal(rows.reduce((t, r) => t + r.promptTokens + r.completionTokens, 0), 450 * 3);
    });

    test('injection-shaped values are data, not SQL', async () => {
      const name = "x'); drop table users; --";
      const stored = await users.insert({ id: newId('usr'), name });
      assert.equal((await users.findByName(name))?.id, stored.id);
      assert.equal(await users.findByName("' OR '1'='1"), undefined);
      assert.ok((await users.list({ limit: 1, offset: 0 })).length === 1);
    });
  });
}
