import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import IORedis from 'ioredis';
import { deleteKeysWithPrefix, randomPrefix, TEST_REDIS_URL } from '@switchyard/testing';
import { DeferredDemand, PROMISE_GRACE_MS } from './deferred-demand';

const prefix = randomPrefix('t-deferred');
const redis = new IORedis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
// Two edges on their own connections: what one defers, the other counts.
const other = new IORedis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
const edgeA = new DeferredDemand(redis, prefix);
const edgeB = new DeferredDemand(other, prefix);

after(async () => {
  await deleteKeysWithPrefix(prefix);
  redis.disconnect();
  other.disconnect();
});

test("a burst refused at once, across edges, is told to come back in turn: each refusal counts the ones before it", async () => {
  const perRefusal = (outstanding: number) => 1000 * (outstanding + 1);
  const told = await Promise.all(
    Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? edgeA : edgeB).defer('shared', 'burst:8b', { keyId: 'key_1' }, `r${i}`, perRefusal)),
  );
  assert.deepEqual([...told].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => 1000 * (i + 1)), 'ten different return times, one per place in line');
  assert.equal(await edgeB.outstanding('shared', 'burst:8b'), 10);
  assert.equal(await edgeA.outstanding('shared', 'other:8b'), 0, 'per queue');
  assert.equal(await edgeA.outstanding('performance', 'burst:8b'), 0, 'per pool');
});

test('a refusal stops counting once its time has come; the same request refused again counts once', async () => {
  const t0 = Date.now();
  await edgeA.defer('shared', 'short:8b', { keyId: 'key_1' }, 'a', () => 150);
  await edgeA.defer('shared', 'short:8b', { keyId: 'key_1' }, 'b', (n) => (n === 1 ? 5000 : -1));
  assert.equal(await edgeA.outstanding('shared', 'short:8b'), 2);
  await new Promise((r) => setTimeout(r, Math.max(0, t0 + 300 - Date.now())));
  assert.equal(await edgeA.outstanding('shared', 'short:8b'), 1, "the first one's time has come");
  await edgeA.defer('shared', 'short:8b', { keyId: 'key_1' }, 'b', () => 5000);
  assert.equal(await edgeA.outstanding('shared', 'short:8b'), 1, 'a retry under the same request id replaces its entry');
  const ttl = await redis.pttl(edgeA.key('shared', 'short:8b'));
  assert.ok(ttl > 0, 'the set expires once nobody writes it');
});

test("a refusal's place is kept for its return: taken once, only once its time has come, and only within the grace", async () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await edgeA.defer('shared', 'kept:8b', { keyId: 'key_1' }, 'x', () => 200);
  assert.equal(await edgeB.honor('shared', 'kept:8b'), false, 'not before its time');
  await sleep(300);
  assert.equal(await edgeB.outstanding('shared', 'kept:8b'), 0, 'its time has come: no longer counted as to come back');
  assert.equal(await edgeB.honor('shared', 'kept:8b'), true, 'its place, taken at another edge');
  assert.equal(await edgeA.honor('shared', 'kept:8b'), false, 'once');
  await edgeA.defer('shared', 'kept:8b', { keyId: 'key_1' }, 'y', () => 100);
  await sleep(100 + PROMISE_GRACE_MS + 200);
  assert.equal(await edgeA.honor('shared', 'kept:8b'), false, 'a client that did not come back within the grace has lost its place');
});

test("a place can be asked for by its owner: its key's, or the same request's; another's is left for its own client", async () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await edgeA.defer('shared', 'owned:8b', { keyId: 'key_1', fingerprint: 'aaa' }, 'p', () => 100);
  await edgeA.defer('shared', 'owned:8b', { keyId: 'key_10', fingerprint: 'bbb' }, 'q', () => 100);
  await edgeA.defer('shared', 'owned:8b', { keyId: 'key_1', fingerprint: 'ccc' }, 'r', () => 100);
  await sleep(200);
  assert.equal(await edgeB.honor('shared', 'owned:8b', { keyId: 'key_2' }), false, 'no place of key_2');
  assert.equal(await edgeB.honor('shared', 'owned:8b', { keyId: 'key_1', fingerprint: 'bbb' }), false, 'not the same request: bbb is key_10\'s');
  assert.equal(await edgeB.honor('shared', 'owned:8b', { keyId: 'key_1', fingerprint: 'ccc' }), true, 'the same request: r');
  assert.equal(await edgeB.honor('shared', 'owned:8b', { keyId: 'key_1', fingerprint: 'ccc' }), false, 'once');
  assert.equal(await edgeB.honor('shared', 'owned:8b', { keyId: 'key_1' }), true, "key_1's other place: p");
  assert.equal(await edgeB.honor('shared', 'owned:8b', { keyId: 'key_1' }), false, "key_1 had two; key_10's is not key_1's");
  assert.equal(await edgeB.honor('shared', 'owned:8b'), true, "key_10's, for a request of anyone");
});
