/**
 * The fault suite: the platform started exactly as `npm start` starts it, on a redis-server of the
 * test's own, and then broken the way production breaks — a worker killed mid-stream, the scheduler
 * leader killed with a cold model waiting, auth stalled, Redis stopped and started again empty —
 * asserting what a client sees. Figures are printed (`# fault:` lines) for the record.
 *
 * Runs after the other tests, alone (tools/scripts/test.mjs), so its time bounds are not measured
 * on a machine busy with other suites.
 */
import { cpSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startRedisServer, type OwnRedisServer } from '@switchyard/testing';
import { admin, type Platform, startPlatform } from './platform';

const TIME_SCALE = 10;
const HOT = 'llama3.1:8b';

let redis: OwnRedisServer;
let p: Platform;

before(async () => {
  redis = await startRedisServer();
  p = await startPlatform({ REDIS_URL: redis.url, SIM_TIME_SCALE: String(TIME_SCALE), EDGE_KEEPALIVE_MS: '500' });
});

after(async () => {
  // Keep the services' logs of the last run for whoever has to read what happened.
  if (p) {
    const kept = path.join(os.tmpdir(), 'switchyard-faults-last-logs');
    rmSync(kept, { recursive: true, force: true });
    cpSync(p.logDir, kept, { recursive: true });
    console.log(`# fault: services' logs kept in ${kept}`);
  }
  await p?.stop();
  await redis?.stop();
});

const figure = (what: string, value: unknown) => console.log(`# fault: ${what}: ${typeof value === 'number' ? value.toFixed(0) : String(value)}`);

function chatBody(prompt: string, extra: Record<string, unknown> = {}) {
  return { model: HOT, seed: 7, temperature: 0, max_tokens: 1500, messages: [{ role: 'user', content: prompt }], ...extra };
}

interface StreamSeen {
  status: number;
  text: string;
  /** `data: [DONE]` arrived. */
  done: boolean;
  error?: { code: string | null; message: string };
  firstTextAt?: number;
  endedAt: number;
}

/** A streaming chat completion read off the wire, as any SSE client sees it. */
async function stream(key: string, body: object, onText?: () => void): Promise<StreamSeen> {
  const res = await fetch(`${p.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const seen: StreamSeen = { status: res.status, text: '', done: false, endedAt: 0 };
  if (!res.ok || !res.body) {
    seen.endedAt = Date.now();
    return seen;
  }
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const part of res.body) {
    buffered += decoder.decode(part as Uint8Array, { stream: true });
    let cut: number;
    while ((cut = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, cut);
      buffered = buffered.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ')) continue;
        const data = line.slice(6);
        if (data === '[DONE]') {
          seen.done = true;
          continue;
        }
        const json = JSON.parse(data) as { error?: { code: string | null; message: string }; choices?: Array<{ delta?: { content?: string } }> };
        if (json.error) seen.error = json.error;
        const text = json.choices?.[0]?.delta?.content ?? '';
        if (text && seen.firstTextAt === undefined) {
          seen.firstTextAt = Date.now();
          onText?.();
        }
        seen.text += text;
      }
    }
  }
  seen.endedAt = Date.now();
  return seen;
}

async function metric(url: string, name: string, label?: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text().catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    if (label && !line.includes(label)) continue;
    if (!label && line[name.length] !== ' ' && line[name.length] !== '{') continue;
    return Number(line.split(' ').pop());
  }
  return undefined;
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function holderOf(model: string): Promise<number> {
  return until(async () => {
    for (let i = 0; i < p.workerUrls.length; i++) if ((await metric(p.workerUrls[i], 'switchyard_worker_model_resident', `model="${model}"`)) === 1) return i;
    return undefined;
  }, 60_000, `a worker holding ${model}`);
}

function kill(name: Parameters<Platform['pidOf']>[0], signal: NodeJS.Signals = 'SIGKILL'): number {
  const pid = p.pidOf(name);
  assert.ok(pid, `${name} has a pid`);
  process.kill(pid, signal);
  return Date.now();
}

describe('faults, as a client sees them', () => {
  test('a worker killed mid-generation: streams with text end in-band (worker_lost, no [DONE]) and are never continued; the rest is answered in full', async () => {
    const { id: keyId, key } = await admin(p).createKey();
    const sdk = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
    const holder = await holderOf(HOT);
    const prompts = Array.from({ length: 8 }, (_, i) => `Tell me a long story about GPU number ${i}.`);
    let withText = 0;
    let allHaveText!: () => void;
    const textSeen = new Promise<void>((r) => (allHaveText = r));
    const streams = prompts.slice(0, 4).map((q) =>
      stream(key, chatBody(q), () => {
        if (++withText === 4) allHaveText();
      }),
    );
    const wholes = prompts.slice(4).map(async (q) => {
      const r = await sdk.chat.completions.create(chatBody(q) as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
      return { text: r.choices[0].message.content ?? '', at: Date.now() };
    });
    await textSeen;
    const killedAt = kill(`worker-${holder}`);

    const seen = await Promise.all(streams);
    const answered = await Promise.all(wholes);
    // A fresh run of each request, on the demo key, after the fault.
    const fresh = async (q: string) =>
      (await new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: p.demoKey, maxRetries: 0 }).chat.completions.create(chatBody(q) as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming))
        .choices[0].message.content ?? '';
    const expected = await Promise.all(prompts.map(fresh));

    seen.forEach((s, i) => {
      assert.equal(s.status, 200);
      if (s.done) {
        assert.equal(s.text, expected[i], 'a stream that finished has the whole answer, nothing spliced');
        return;
      }
      assert.equal(s.error?.code, 'worker_lost', `stream ${i} ends with an in-band worker_lost error`);
      assert.ok(expected[i].startsWith(s.text), `stream ${i}'s text is a prefix of the answer, never another run's text appended`);
      assert.ok(s.text.length < expected[i].length);
    });
    const broken = seen.filter((s) => !s.done);
    assert.ok(broken.length > 0, 'the kill hit streams mid-generation');
    const resolvedIn = Math.max(...broken.map((s) => s.endedAt - killedAt));
    figure('worker kill: running streams ended in-band after (ms)', resolvedIn);
    assert.ok(resolvedIn < 15_000, `running jobs of the killed worker resolved within 15 s (took ${resolvedIn} ms)`);
    answered.forEach((a, i) => assert.equal(a.text, expected[4 + i], `non-stream request ${i} answered in full by a rerun`));
    figure('worker kill: non-stream requests answered after (ms)', Math.max(...answered.map((a) => a.at - killedAt)));

    // The ledger counts each request at most once, and every answered one.
    const completed = answered.length + seen.filter((x) => x.done).length;
    const usage = await until(async () => {
      const u = await admin(p).usage(keyId);
      return u.totals.requests >= completed ? u : undefined;
    }, 15_000, 'usage of the answered requests');
    assert.ok(usage.totals.requests <= prompts.length, `at most one ledger row per request (${usage.totals.requests} for ${prompts.length})`);
    // The launcher brought the worker back.
    await until(async () => (p.output().includes(`worker-${holder} is back`) ? true : undefined), 60_000, 'the launcher to restart the worker');
  });

  test('a worker frozen mid-generation (SIGSTOP: a hung machine, not restarted): declared lost, its streams end in-band, new requests run elsewhere', async () => {
    const prompts = Array.from({ length: 4 }, (_, i) => `A long tale about frozen machine ${i}.`);
    let withText = 0;
    let twoHaveText!: () => void;
    const textSeen = new Promise<void>((r) => (twoHaveText = r));
    const streams = prompts.slice(0, 2).map((q) =>
      stream(p.demoKey, chatBody(q), () => {
        if (++withText === 2) twoHaveText();
      }),
    );
    await textSeen;
    // Freeze a worker running one of the streams (the model may be on both GPUs by now).
    const busy = await Promise.all(p.workerUrls.map(async (u) => (await metric(u, 'switchyard_worker_busy_slots', `model="${HOT}"`)) ?? 0));
    const holder = busy.indexOf(Math.max(...busy));
    assert.ok(busy[holder] > 0, `a worker runs the streams (${busy.join(', ')})`);
    const frozenAt = kill(`worker-${holder}`, 'SIGSTOP');
    try {
      const sdk = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: p.demoKey, maxRetries: 0 });
      const wholes = prompts.slice(2).map(async (q) => {
        const r = await sdk.chat.completions.create(chatBody(q, { max_tokens: 50 }) as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
        return { text: r.choices[0].message.content ?? '', at: Date.now() };
      });
      const seen = await Promise.all(streams);
      const answered = await Promise.all(wholes);
      const broken = seen.filter((x) => !x.done);
      assert.ok(broken.length > 0, 'the freeze hit a stream mid-generation');
      for (const b of broken) assert.equal(b.error?.code, 'worker_lost');
      const resolvedIn = Math.max(...broken.map((x) => x.endedAt - frozenAt));
      figure('worker frozen: running streams ended in-band after (ms)', resolvedIn);
      figure('worker frozen: requests sent after the freeze answered after (ms)', Math.max(...answered.map((a) => a.at - frozenAt)));
      assert.ok(resolvedIn < 15_000, `running jobs of the lost worker resolved within 15 s (took ${resolvedIn} ms)`);
      for (const a of answered) assert.ok(a.text.length > 0);
    } finally {
      kill(`worker-${holder}`, 'SIGCONT');
    }
  });

  test('the scheduler leader killed with a cold-model request waiting: a standby takes over and the request is served', async () => {
    const leaderIndex = await until(async () => {
      for (let i = 0; i < p.schedulerUrls.length; i++) if ((await metric(p.schedulerUrls[i], 'switchyard_scheduler_leader')) === 1) return i;
      return undefined;
    }, 20_000, 'a leader');
    const cold = 'llama3.2:3b';
    const killedAt = kill(`scheduler-${leaderIndex}`);
    const answer = fetch(`${p.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.demoKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: cold, max_tokens: 20, messages: [{ role: 'user', content: 'Hello there' }] }),
    }).then(async (r) => ({ status: r.status, at: Date.now(), body: await r.text() }));
    // A replica leads again: the standby, or the killed one restarted by the launcher if it wins the lease.
    const takeoverAt = await until(async () => {
      for (const url of p.schedulerUrls) if ((await metric(url, 'switchyard_scheduler_leader')) === 1) return Date.now();
      return undefined;
    }, 15_000, 'a replica to lead');
    const a = await answer;
    assert.equal(a.status, 200, a.body);
    figure('scheduler kill: standby leads after (ms)', takeoverAt - killedAt);
    figure('scheduler kill: cold-model request served after (ms)', a.at - killedAt);
    assert.ok(takeoverAt - killedAt < 10_000, 'takeover within 10 s');
    // Takeover, then the load (a 2 GB model loads in well under 5 s even unscaled).
    assert.ok(a.at - killedAt < 10_000 + 5_000, `served within takeover + load time (${a.at - killedAt} ms)`);
  });

  test('auth stalled: an uncached key gets 503 auth_unavailable quickly; a key verified a moment ago still works', async () => {
    const fresh = (await admin(p).createKey()).key;
    const ask = async (key: string) => {
      const t0 = Date.now();
      const r = await fetch(`${p.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: HOT, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
      return { status: r.status, ms: Date.now() - t0, body: (await r.json()) as { error?: { code: string } }, retryAfter: r.headers.get('retry-after') };
    };
    // A key first used just now: its verdict is cached for EDGE_AUTH_CACHE_TTL_MS (30 s) from now.
    const recent = (await admin(p).createKey()).key;
    const before = await ask(recent);
    assert.equal(before.status, 200, JSON.stringify(before.body));
    kill('auth', 'SIGSTOP');
    try {
      const stalled = await ask(fresh);
      assert.equal(stalled.status, 503);
      assert.equal(stalled.body.error?.code, 'auth_unavailable');
      assert.ok(stalled.retryAfter);
      figure('auth stalled: uncached key answered 503 after (ms)', stalled.ms);
      assert.ok(stalled.ms < 4_000);
      const cached = await ask(recent);
      assert.equal(cached.status, 200, `a cached verdict keeps a recent key working: ${JSON.stringify(cached.body)}`);
    } finally {
      kill('auth', 'SIGCONT');
    }
  });

  test('Redis stopped: every request gets 503 queue_unavailable within 1 s; back empty, the platform recovers without restarts', async () => {
    const inflight = stream(p.demoKey, chatBody('A very long story, please, about Redis.'));
    await new Promise((r) => setTimeout(r, 300));
    await redis.stop();
    const stoppedAt = Date.now();
    const requests: Array<[string, string, object | undefined]> = [
      ['POST', '/v1/chat/completions', chatBody('During the outage')],
      ['POST', '/v1/chat/completions', { ...chatBody('During the outage, streamed'), stream: true }],
      ['POST', '/v1/completions', { model: HOT, prompt: 'def f(', max_tokens: 5 }],
      ['POST', '/v1/embeddings', { model: 'nomic-embed-text', input: 'hello' }],
      ['POST', '/api/chat/completions', chatBody('portal path')],
    ];
    const during = await Promise.all(
      requests.map(async ([method, path, body]) => {
        const t0 = Date.now();
        try {
          const r = await fetch(`${p.baseUrl}${path}`, {
            method,
            headers: { authorization: `Bearer ${p.demoKey}`, 'content-type': 'application/json' },
            body: body ? JSON.stringify(body) : undefined,
            signal: AbortSignal.timeout(5000),
          });
          const json = (await r.json().catch(() => ({}))) as { error?: { code: string } };
          return { path, status: r.status, code: json.error?.code, ms: Date.now() - t0, retryAfter: r.headers.get('retry-after') };
        } catch (err) {
          return { path, status: 0, code: `no answer: ${String(err)}`, ms: Date.now() - t0, retryAfter: null };
        }
      }),
    );
    for (const d of during) {
      assert.equal(d.status, 503, `${d.path} during the outage: ${JSON.stringify(d)}`);
      assert.equal(d.code, 'queue_unavailable');
      assert.ok(d.retryAfter, 'Retry-After says when to come back');
      assert.ok(d.ms < 1000, `answered within 1 s (${d.ms} ms)`);
    }
    figure('Redis outage: slowest 503 (ms)', Math.max(...during.map((d) => d.ms)));

    await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (Date.now() - stoppedAt))));
    await redis.start();
    const backAt = Date.now();
    const models = new OpenAI({ baseURL: `${p.baseUrl}/v1`, apiKey: p.demoKey, maxRetries: 0 });
    await until(async () => {
      const list = (await models.models.list()).data as Array<{ id: string; switchyard?: { resident?: boolean } }>;
      return list.find((m) => m.id === HOT)?.switchyard?.resident ? true : undefined;
    }, 10_000, 'residency republished');
    const residencyBack = Date.now() - backAt;
    const served = await until(async () => {
      const r = await models.chat.completions.create({ model: HOT, max_tokens: 5, messages: [{ role: 'user', content: 'back?' }] });
      return r.choices[0].message.content !== undefined ? Date.now() : undefined;
    }, 10_000, 'a request served');
    figure('Redis outage: residency republished after Redis returned (ms)', residencyBack);
    figure('Redis outage: first request served after Redis returned (ms)', served - backAt);
    assert.ok(residencyBack < 5_000, `residency back within 5 s (${residencyBack} ms)`);
    assert.ok(served - backAt < 5_000, `served within 5 s (${served - backAt} ms)`);

    const s = await inflight;
    assert.equal(s.status, 200);
    assert.ok(s.done || s.error, 'the stream in flight finished or ended with an in-band error; it did not hang');
    if (!s.done) figure(`Redis outage: in-flight stream ended in-band (${s.error?.code}) after Redis returned (ms)`, s.endedAt - backAt);
    else figure('Redis outage: in-flight stream completed', 'yes');
  });
});
