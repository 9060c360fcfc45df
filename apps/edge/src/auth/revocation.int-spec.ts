import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { APIError } from 'openai';
import { startEdgeHarness, waitFor, type EdgeHarness } from '../testing/edge-harness';

const KEY = 'sk-test-to-be-revoked-0123456789ab';
const OTHER = 'sk-test-same-user-other-key-01234';

async function status(h: EdgeHarness, key: string): Promise<number> {
  try {
    await h.client(key).models.retrieve('llama3.1:8b');
    return 200;
  } catch (err) {
    if (err instanceof APIError && err.status) return err.status;
    throw err;
  }
}

describe('auth: cached VerifyKey verdicts, dropped on auth events', () => {
  let h: EdgeHarness;
  before(async () => {
    h = await startEdgeHarness({
      keys: {
        [KEY]: { keyId: 'key-revoke', userId: 'u-revoke' },
        [OTHER]: { keyId: 'key-other', userId: 'u-revoke' },
      },
    });
  });
  after(async () => {
    await h.close();
  });

  test('verdicts are cached: repeated requests make one VerifyKey call', async () => {
    const calls = h.auth.verifyCalls;
    await Promise.all(Array.from({ length: 5 }, () => h.client(KEY).models.list()));
    await h.client(KEY).chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(h.auth.verifyCalls - calls, 1);
  });

  test('a revoked key is refused within 1 s of the auth event', async () => {
    assert.equal(await status(h, KEY), 200);
    const revokedAt = Date.now();
    await h.auth.revoke(KEY);
    await waitFor(async () => (await status(h, KEY)) === 401, 1000, 5);
    const elapsed = Date.now() - revokedAt;
    assert.ok(elapsed < 1000, `refused after ${elapsed} ms`);
    const err = await h.client(KEY).chat.completions.create({ model: 'llama3.1:8b', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    assert.ok(err instanceof APIError && err.status === 401 && err.code === 'invalid_api_key');
  });

  test('a user-wide policy change drops that user\'s cached verdicts', async () => {
    assert.equal(await status(h, OTHER), 200);
    const calls = h.auth.verifyCalls;
    await h.auth.publish({ type: 'user.policy_changed', userId: 'u-revoke' });
    await waitFor(async () => {
      await status(h, OTHER);
      return h.auth.verifyCalls > calls;
    }, 1000, 5);
  });
});
