import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiKeysRepository, KeyCredential } from '../api-keys/api-keys.repository';
import { hashApiKey } from '../api-keys/api-key-secret';
import { authEnvSchema } from '../config/auth.config';
import type { AuthEventListener, AuthEventsService } from '../events/auth-events.service';
import { NO_OVERRIDES } from '../policies/policy';
import { KeyVerifierService } from './key-verifier.service';

const KEY = 'sk-0123456789abcdefghijABCDEFGHIJ01';

function credential(extra: Partial<KeyCredential> = {}): KeyCredential {
  return {
    id: 'key_1',
    userId: 'usr_1',
    userName: 'alice',
    name: '',
    display: 'sk-012…IJ01',
    createdAt: new Date(),
    expiresAt: null,
    revokedAt: null,
    rotatedFrom: null,
    userOverrides: { ...NO_OVERRIDES, tokenBudget: 1000, budgetPeriod: 'month' },
    keyOverrides: { ...NO_OVERRIDES },
    tokensToday: 7,
    tokensThisMonth: 70,
    ...extra,
  };
}

function setup(stored: Map<string, KeyCredential>) {
  const lookups: Buffer[] = [];
  const keys = {
    findCredentialByHash: async (hash: Buffer) => {
      lookups.push(hash);
      return stored.get(hash.toString('hex'));
    },
  } as unknown as ApiKeysRepository;
  let listener: AuthEventListener = () => undefined;
  const events = {
    onEvent: (l: AuthEventListener) => {
      listener = l;
      return () => undefined;
    },
    onResync: () => () => undefined,
  } as unknown as AuthEventsService;
  const config = authEnvSchema.parse({});
  const verifier = new KeyVerifierService(config, keys, events);
  return { verifier, lookups, emit: (e: Parameters<AuthEventListener>[0]) => listener(e) };
}

test('a valid key resolves to its principal, merged policy and budget use; the cache answers next time', async () => {
  const stored = new Map([[hashApiKey(KEY).toString('hex'), credential()]]);
  const { verifier, lookups } = setup(stored);
  const v = await verifier.verify(KEY);
  assert.deepEqual(v?.principal, { userId: 'usr_1', userName: 'alice', keyId: 'key_1', keyDisplay: 'sk-012…IJ01' });
  assert.equal(v?.policy.tokenBudget, 1000);
  assert.equal(v?.budgetUsed, 70, 'monthly budget reads the month');
  await verifier.verify(KEY);
  assert.equal(lookups.length, 1);
  // The repository is asked by hash, never by the key.
  assert.deepEqual(lookups[0], hashApiKey(KEY));
});

test('revoked, expired and unknown keys are refused; malformed ones never reach storage', async () => {
  const revoked = 'sk-revokedrevokedrevokedrevoked0001';
  const expired = 'sk-expiredexpiredexpiredexpired0001';
  const stored = new Map([
    [hashApiKey(revoked).toString('hex'), credential({ revokedAt: new Date() })],
    [hashApiKey(expired).toString('hex'), credential({ expiresAt: new Date(Date.now() - 1) })],
  ]);
  const { verifier, lookups } = setup(stored);
  assert.equal(await verifier.verify(revoked), undefined);
  assert.equal(await verifier.verify(expired), undefined);
  assert.equal(await verifier.verify('sk-unknownunknownunknownunknown0001'), undefined);
  assert.equal(lookups.length, 3);
  for (const bad of ['', "' OR '1'='1", 'x'.repeat(10_000), 12, null]) assert.equal(await verifier.verify(bad), undefined);
  assert.equal(lookups.length, 3);
});

test('a revocation event drops the cached verdict at once', async () => {
  const stored = new Map([[hashApiKey(KEY).toString('hex'), credential()]]);
  const { verifier, lookups, emit } = setup(stored);
  assert.ok(await verifier.verify(KEY));
  stored.set(hashApiKey(KEY).toString('hex'), credential({ revokedAt: new Date() }));
  assert.ok(await verifier.verify(KEY), 'still cached');
  emit({ type: 'key.revoked', keyId: 'key_1' });
  assert.equal(await verifier.verify(KEY), undefined);
  assert.equal(lookups.length, 2);
});

test('recorded usage updates a cached budget', async () => {
  const stored = new Map([[hashApiKey(KEY).toString('hex'), credential()]]);
  const { verifier } = setup(stored);
  await verifier.verify(KEY);
  verifier.noteUsage('key_1', 30);
  assert.equal((await verifier.verify(KEY))?.budgetUsed, 100);
});
