import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constructLlmApi, type BaseLlmApi } from '@continuedev/openai-adapters';
import { startPlatform, type Platform } from './platform';

/**
 * The Continue editor extension, through its own adapters (`@continuedev/openai-adapters`), with
 * the seed's configuration: `provider: openai`, `apiBase …/api/`, tab autocomplete on
 * codestral:22b (fill-in-the-middle with Continue's stop words) and chat on mistral-large:123b
 * with Continue's default `max_tokens: 4096` — the model's whole fixed window.
 */
let p: Platform;
let api: BaseLlmApi;

before(async () => {
  // A 123B model writing up to 4096 tokens: the simulator runs 100× faster than real time here.
  p = await startPlatform({ SIM_TIME_SCALE: '100' });
  const llm = constructLlmApi({ provider: 'openai', apiBase: `${p.baseUrl}/api/`, apiKey: p.demoKey });
  assert.ok(llm, 'Continue builds an OpenAI adapter');
  api = llm;
});

after(async () => {
  await p?.stop();
});

/** Codestral's fill-in-the-middle template as Continue renders it, and the stop words it sends with it. */
const FIM_PROMPT = '[SUFFIX]\n    return total\n[PREFIX]def add_all(numbers):\n    total = 0\n    for n in numbers:\n        ';
const CONTINUE_STOPS = ['[PREFIX]', '[SUFFIX]', '\n\n', '\n\r\n', '/src/', '#- coding: utf-8'];

describe('Continue, pointed at the portal', () => {
  test('tab autocomplete on codestral:22b: the fill-in-the-middle request with six stop words streams a completion', async () => {
    let text = '';
    let finish: string | null = null;
    for await (const chunk of api.completionStream(
      { model: 'codestral:22b', prompt: FIM_PROMPT, stop: CONTINUE_STOPS, max_tokens: 64, temperature: 0.01, stream: true },
      AbortSignal.timeout(60_000),
    )) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(text.length > 0, 'a completion came back');
    assert.ok(finish === 'stop' || finish === 'length', `finish_reason ${finish}`);
    for (const s of CONTINUE_STOPS) assert.ok(!text.includes(s), `no stop word in the completion (${JSON.stringify(s)})`);
  });

  test('chat on mistral-large:123b with max_tokens 4096 (its whole window) is answered, stopping when the window is full', async () => {
    const res = await api.chatCompletionNonStream(
      { model: 'mistral-large:123b', max_tokens: 4096, messages: [{ role: 'user', content: 'Explain what a GPU does, briefly.' }] },
      AbortSignal.timeout(120_000),
    );
    assert.ok((res.choices[0].message.content ?? '').length > 0);
    assert.ok(['stop', 'length'].includes(res.choices[0].finish_reason));
    let streamed = '';
    for await (const chunk of api.chatCompletionStream(
      { model: 'mistral-large:123b', max_tokens: 4096, stream: true, messages: [{ role: 'user', content: 'And a CPU?' }] },
      AbortSignal.timeout(120_000),
    )) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.ok(streamed.length > 0);
  });

  test("Continue's model list shows the catalogue", async () => {
    const ids = (await api.list()).map((m) => m.id);
    for (const m of ['codestral:22b', 'mistral-large:123b', 'llama3.1:8b']) assert.ok(ids.includes(m), m);
  });
});
