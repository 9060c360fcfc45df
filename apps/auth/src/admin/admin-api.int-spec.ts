import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '@switchyard/observability';
import { hashApiKey } from '../api-keys/api-key-secret';
import { startAuthApp, type RunningAuthApp } from '../auth-app';
import { runCli } from '../cli/admin-cli';
import type { AuthConfig } from '../config/auth.config';
import { adminHttp, AuthGrpcTestClient } from '../testing/test-clients';
import { testAuthConfig } from '../testing/test-env';

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

function assertErrorShape(body: unknown): asserts body is ErrorBody {
  assert.equal(typeof body, 'object');
  const e = (body as ErrorBody).error;
  assert.equal(typeof e.message, 'string');
  assert.equal(typeof e.type, 'string');
  assert.ok(e.param === null || typeof e.param === 'string');
  assert.ok(e.code === null || typeof e.code === 'string');
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
}

describe('admin REST API over HTTP', () => {
  let config: AuthConfig;
  let cleanup: () => Promise<void>;
  let running: RunningAuthApp;
  let api: ReturnType<typeof adminHttp>;
  const logLines: string[] = [];
  const issuedKeys: string[] = [];
  let userId: string;
  let keyId: string;

  before(async () => {
    ({ config, cleanup } = await testAuthConfig('postgres'));
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    });
    running = await startAuthApp(config, createLogger({ service: 'auth', level: 'trace', destination }));
    api = adminHttp(running.httpUrl, config.SWITCHYARD_ADMIN_TOKEN);
    const user = await api<{ id: string }>('POST', '/admin/v1/users', { name: 'owner' });
    userId = user.body.id;
    const key = await api<{ id: string; key: string }>('POST', '/admin/v1/keys', { userId });
    keyId = key.body.id;
    issuedKeys.push(key.body.key);
  });

  after(async () => {
    await running?.close();
    await cleanup?.();
  });

  const routes = (): [string, string, unknown?][] => [
    ['GET', '/admin/v1/users'],
    ['POST', '/admin/v1/users', { name: 'intruder' }],
    ['GET', `/admin/v1/users/${userId}`],
    ['GET', `/admin/v1/users/${userId}/policy`],
    ['PATCH', `/admin/v1/users/${userId}/policy`, { requestsPerMinute: 1 }],
    ['GET', '/admin/v1/keys'],
    ['POST', '/admin/v1/keys', { userId }],
    ['GET', `/admin/v1/keys/${keyId}`],
    ['PATCH', `/admin/v1/keys/${keyId}`, { name: 'x' }],
    ['POST', `/admin/v1/keys/${keyId}/revoke`],
    ['POST', `/admin/v1/keys/${keyId}/rotate`, {}],
    ['GET', `/admin/v1/keys/${keyId}/policy`],
    ['PATCH', `/admin/v1/keys/${keyId}/policy`, { requestsPerMinute: 1 }],
    ['GET', '/admin/v1/usage'],
  ];

  test('refuses a missing or wrong admin token on every route, changing nothing', async () => {
    const token = config.SWITCHYARD_ADMIN_TOKEN ?? '';
    const wrongAuth: (Record<string, string> | undefined)[] = [
      undefined,
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer wrong-token-wrong-token' },
      { authorization: `Bearer ${token}x` },
      { authorization: `Bearer ${token.slice(0, -1)}` },
      { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` },
      { 'x-admin-token': token },
    ];
    for (const [method, path, body] of routes()) {
      for (const headers of wrongAuth) {
        const res = await adminHttp(running.httpUrl, undefined)(method, path, body, headers ?? {});
        assert.equal(res.status, 401, `${method} ${path} with ${JSON.stringify(headers && Object.keys(headers))}`);
        assertErrorShape(res.body);
        assert.equal(res.body.error.type, 'authentication_error');
        assert.ok(!JSON.stringify(res.body).includes(token));
      }
    }
    const users = await api<{ data: { name: string }[] }>('GET', '/admin/v1/users');
    assert.deepEqual(users.body.data.map((u) => u.name), ['owner']);
    const key = await api<{ status: string; name: string }>('GET', `/admin/v1/keys/${keyId}`);
    assert.equal(key.body.status, 'active');
    assert.equal(key.body.name, '');
  });

  test('bad input gets a 400 in one error shape, naming the field', async () => {
    const cases: [string, string, unknown, string | null][] = [
      ['POST', '/admin/v1/users', '{"name":', null],
      ['POST', '/admin/v1/users', {}, 'name'],
      ['POST', '/admin/v1/users', { name: '' }, 'name'],
      ['POST', '/admin/v1/users', { name: 'has space' }, 'name'],
      ['POST', '/admin/v1/users', { name: 'ok', admin: true }, 'admin'],
      ['POST', '/admin/v1/users', [], null],
      ['POST', '/admin/v1/keys', { userId, policy: { requestsPerMinute: -1 } }, 'policy.requestsPerMinute'],
      ['POST', '/admin/v1/keys', { userId, policy: { requestsPerMinute: 1.5 } }, 'policy.requestsPerMinute'],
      ['POST', '/admin/v1/keys', { userId, policy: { priority: 'urgent' } }, 'policy.priority'],
      ['POST', '/admin/v1/keys', { userId, policy: { pool: 'gpu' } }, 'policy.pool'],
      ['POST', '/admin/v1/keys', { userId, policy: { share: 0 } }, 'policy.share'],
      ['PATCH', `/admin/v1/keys/${keyId}/policy`, { share: 1000 }, 'share'],
      ['POST', '/admin/v1/keys', { userId, policy: { models: [] } }, 'policy.models'],
      ['POST', '/admin/v1/keys', { userId, policy: { models: ["' OR 1=1 --"] } }, 'policy.models.0'],
      ['POST', '/admin/v1/keys', { userId, expiresAt: 'tomorrow' }, 'expiresAt'],
      ['POST', '/admin/v1/keys', { userId, expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt'],
      ['POST', '/admin/v1/keys', { userId: 42 }, 'userId'],
      ['PATCH', `/admin/v1/keys/${keyId}`, {}, null],
      ['PATCH', `/admin/v1/keys/${keyId}/policy`, { tokenBudget: 'lots' }, 'tokenBudget'],
      ['PATCH', `/admin/v1/users/${userId}/policy`, { budgetPeriod: 'week' }, 'budgetPeriod'],
      ['POST', `/admin/v1/keys/${keyId}/rotate`, { graceSeconds: -5 }, 'graceSeconds'],
      ['GET', '/admin/v1/usage?from=2026-02-30', undefined, 'from'],
      ['GET', '/admin/v1/usage?from=2026-03-02&to=2026-03-01', undefined, 'from'],
      ['GET', '/admin/v1/keys?limit=lots', undefined, 'limit'],
      ['GET', '/admin/v1/keys?sort=name', undefined, 'sort'],
    ];
    for (const [method, path, body, param] of cases) {
      const res = await api(method, path, body);
      assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)} -> ${JSON.stringify(res.body)}`);
      assertErrorShape(res.body);
      assert.equal(res.body.error.type, 'invalid_request_error');
      if (param !== null) assert.equal(res.body.error.param, param, `${method} ${path} ${JSON.stringify(body)}`);
    }
  });

  test('unknown ids are 404, a taken user name is 409, unknown routes are 404 — same shape', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['GET', '/admin/v1/users/usr_0000000000000000', undefined, 404, 'user_not_found'],
      ['GET', '/admin/v1/users/alice', undefined, 404, 'user_not_found'],
      ['POST', '/admin/v1/keys', { userId: 'usr_0000000000000000' }, 404, 'user_not_found'],
      ['GET', '/admin/v1/keys/key_0000000000000000', undefined, 404, 'key_not_found'],
      ['POST', "/admin/v1/keys/key_'%20OR%20'1'='1/revoke", undefined, 404, 'key_not_found'],
      ['POST', '/admin/v1/users', { name: 'owner' }, 409, 'user_exists'],
      ['GET', '/admin/v1/nothing-here', undefined, 404, 'not_found'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await api(method, path, body);
      assert.equal(res.status, status, `${method} ${path}`);
      assertErrorShape(res.body);
      assert.equal(res.body.error.code, code);
    }
  });

  test('keys: shown once at creation, listed redacted, rotated with a grace period, revoked', async () => {
    const created = await api<{ id: string; key: string; display: string; policy: { effective: { requestsPerMinute: number } } }>('POST', '/admin/v1/keys', {
      userId,
      name: 'ci',
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      policy: { requestsPerMinute: 30 },
    });
    assert.equal(created.status, 201);
    issuedKeys.push(created.body.key);
    assert.equal(created.body.policy.effective.requestsPerMinute, 30);
    assert.equal(created.body.display, `${created.body.key.slice(0, 6)}…${created.body.key.slice(-4)}`);

    const listed = await api<{ data: Record<string, unknown>[] }>('GET', `/admin/v1/keys?userId=${userId}`);
    const listedText = JSON.stringify(listed.body);
    assert.ok(!listedText.includes(created.body.key));
    assert.ok(!listedText.includes(hashApiKey(created.body.key).toString('hex')));
    assert.ok(listed.body.data.every((k) => !('key' in k)));
    const shown = await api<Record<string, unknown>>('GET', `/admin/v1/keys/${created.body.id}`);
    assert.ok(!('key' in shown.body));

    const rotated = await api<{ id: string; key: string; previous: { status: string; expiresAt: string } }>('POST', `/admin/v1/keys/${created.body.id}/rotate`, { graceSeconds: 60 });
    assert.equal(rotated.status, 201);
    issuedKeys.push(rotated.body.key);
    assert.equal(rotated.body.previous.status, 'active');
    assert.ok(Date.parse(rotated.body.previous.expiresAt) <= Date.now() + 61_000);

    const grpc = new AuthGrpcTestClient(running.grpcAddress);
    try {
      assert.ok((await grpc.verifyKey(created.body.key)).ok, 'the old key works during the grace period');
      assert.ok((await grpc.verifyKey(rotated.body.key)).ok);
      const revoked = await api<{ status: string }>('POST', `/admin/v1/keys/${created.body.id}/revoke`);
      assert.equal(revoked.body.status, 'revoked');
      assert.equal((await grpc.verifyKey(created.body.key)).ok, false);
      const again = await api<{ status: string }>('POST', `/admin/v1/keys/${created.body.id}/revoke`);
      assert.equal(again.status, 200, 'revoking twice is fine');
      const rotateRevoked = await api('POST', `/admin/v1/keys/${created.body.id}/rotate`, {});
      assert.equal(rotateRevoked.status, 409);
    } finally {
      grpc.close();
    }
  });

  test('OpenAPI documentation is served at /admin/docs', async () => {
    const page = await fetch(`${running.httpUrl}/admin/docs`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /swagger-ui/);
    const bundle = await fetch(`${running.httpUrl}/admin/docs/swagger-ui-bundle.js`);
    assert.equal(bundle.status, 200);
    await bundle.arrayBuffer();
    const doc = (await (await fetch(`${running.httpUrl}/admin/docs/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    for (const p of ['/admin/v1/users', '/admin/v1/keys', '/admin/v1/keys/{keyId}/rotate', '/admin/v1/keys/{keyId}/policy', '/admin/v1/usage']) {
      assert.ok(doc.paths[p], `${p} documented`);
    }
    assert.ok(doc.components.securitySchemes.bearer);
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/admin/docs')));
    assert.match(JSON.stringify(doc.paths['/admin/v1/keys/{keyId}/policy']), /"share":\{"type":"number","minimum":0\.1,"maximum":100/);
  });

  test('share: a user default applies to its keys, a key override wins, null inherits again', async () => {
    type View = { overrides: { share: number | null }; effective: { share: number } };
    const user = await api<{ id: string }>('POST', '/admin/v1/users', { name: 'sharer', policy: { share: 0.5 } });
    assert.equal(user.status, 201);
    const key = await api<{ id: string; key: string; policy: View }>('POST', '/admin/v1/keys', { userId: user.body.id });
    issuedKeys.push(key.body.key);
    assert.deepEqual([key.body.policy.overrides.share, key.body.policy.effective.share], [null, 0.5]);
    const patched = await api<View>('PATCH', `/admin/v1/keys/${key.body.id}/policy`, { share: 4 });
    assert.deepEqual([patched.body.overrides.share, patched.body.effective.share], [4, 4]);
    assert.equal((await api<{ policy: View }>('GET', `/admin/v1/keys/${key.body.id}`)).body.policy.effective.share, 4);
    const cleared = await api<View>('PATCH', `/admin/v1/users/${user.body.id}/policy`, { share: null });
    assert.deepEqual([cleared.body.overrides.share, cleared.body.effective.share], [null, 1]);
    const inherited = await api<View>('PATCH', `/admin/v1/keys/${key.body.id}/policy`, { share: null });
    assert.deepEqual([inherited.body.overrides.share, inherited.body.effective.share], [null, 1]);
  });

  test('the admin CLI drives the API (keys create makes the user, prints the key once)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const env = { SWITCHYARD_AUTH_URL: running.httpUrl, SWITCHYARD_ADMIN_TOKEN: config.SWITCHYARD_ADMIN_TOKEN };
    const cli = async (...argv: string[]) => {
      out.length = 0;
      err.length = 0;
      const code = await runCli(argv, { env, out: (l) => out.push(l), err: (l) => err.push(l) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const created = await cli('keys', 'create', '--user', 'alice', '--models', 'llama3.1:8b', '--rpm', '60', '--share', '2');
    assert.equal(created.code, 0, created.err);
    const key = /\b(sk-[0-9A-Za-z]{32})\b/.exec(created.out)?.[1];
    assert.ok(key, created.out);
    issuedKeys.push(key);
    assert.match(created.out, /shown only this once/);
    assert.match(created.out, /^ {2}share: +2$/m);
    const grpc = new AuthGrpcTestClient(running.grpcAddress);
    try {
      const verified = await grpc.verifyKey(key);
      assert.ok(verified.ok);
      assert.equal(verified.value.principal?.userName, 'alice');
      assert.deepEqual(verified.value.policy?.allowedModels, ['llama3.1:8b']);
      assert.equal(verified.value.policy?.requestsPerMinute, 60);
      assert.equal(verified.value.policy?.share, 2);
      await grpc.recordUsage({ requestId: 'req_cli_1', keyId: verified.value.principal?.keyId ?? '', promptTokens: 12, completionTokens: 30 });
    } finally {
      grpc.close();
    }
    const list = await cli('keys', 'list', '--user', 'alice');
    assert.equal(list.code, 0);
    assert.ok(!list.out.includes(key));
    const keyIdOfAlice = /\b(key_[0-9A-Za-z]{16})\b/.exec(list.out)?.[1];
    assert.ok(keyIdOfAlice);
    const shared = await cli('keys', 'policy', keyIdOfAlice, '--share', '2.5');
    assert.equal(shared.code, 0, shared.err);
    assert.match(shared.out, /^ {2}share: +2\.5$/m);
    const userShare = await cli('users', 'policy', 'alice', '--share', '.5');
    assert.match(userShare.out, /^ {2}share: +0\.5$/m);
    const inheriting = await cli('keys', 'policy', keyIdOfAlice, '--share', 'inherit');
    assert.match(inheriting.out, /^ {2}share: +0\.5 \(inherited\)$/m);
    assert.match((await cli('keys', 'show', keyIdOfAlice)).out, /^ {2}share: +0\.5 \(inherited\)$/m);
    assert.equal((await cli('keys', 'policy', keyIdOfAlice, '--share', 'lots')).code, 2);
    assert.equal((await cli('keys', 'policy', keyIdOfAlice, '--share', '0')).code, 1, 'the API refuses a share of 0');
    const usage = await cli('usage', '--user', 'alice');
    assert.equal(usage.code, 0);
    assert.match(usage.out, /llama3\.1:8b\s+1\s+12\s+30/);
    assert.equal((await cli('users', 'create', 'bob')).code, 0);
    assert.equal((await cli('users', 'create', 'bob')).code, 1);
    const rotated = await cli('keys', 'rotate', keyIdOfAlice);
    assert.equal(rotated.code, 0, rotated.err);
    const newKey = /\b(sk-[0-9A-Za-z]{32})\b/.exec(rotated.out)?.[1];
    assert.ok(newKey);
    issuedKeys.push(newKey);
    const newKeyId = /→ (key_[0-9A-Za-z]{16})/.exec(rotated.out)?.[1];
    assert.ok(newKeyId);
    assert.equal((await cli('keys', 'revoke', newKeyId)).code, 0);
    const json = await cli('keys', 'list', '--user', 'alice', '--json');
    const parsed = JSON.parse(json.out) as { status: string }[];
    assert.deepEqual(parsed.map((k) => k.status), ['revoked', 'revoked']);
    const wrong = await runCli(['keys', 'list'], { env: { ...env, SWITCHYARD_ADMIN_TOKEN: 'not-the-token-at-all' }, out: () => undefined, err: (l) => err.push(l) });
    assert.equal(wrong, 1);
    assert.match(err.join('\n'), /Invalid admin token/);
    assert.equal((await cli('keys', 'create')).code, 2);
    assert.equal((await cli('keys', 'frobnicate')).code, 2);
  });

  test('nothing about a key (plaintext or hash) appears in the logs', () => {
    assert.ok(issuedKeys.length >= 4);
    assert.ok(logLines.length > 0);
    const logs = logLines.join('');
    for (const key of issuedKeys) {
      assert.ok(!logs.includes(key), 'plaintext key in logs');
      assert.ok(!logs.includes(key.slice(3)), 'key body in logs');
      assert.ok(!logs.includes(hashApiKey(key).toString('hex')), 'key hash in logs');
      assert.ok(!logs.includes(hashApiKey(key).toString('base64')), 'key hash in logs');
    }
    assert.ok(!logs.includes(config.SWITCHYARD_ADMIN_TOKEN ?? '<none>'), 'admin token in logs');
  });
});
