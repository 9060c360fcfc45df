import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOpenAISchema, OpenAISchemaName } from '@switchyard/testing';
import { z } from 'zod';
import {
  chatCompletionChunkSchema,
  chatCompletionSchema,
  embeddingsResponseSchema,
  errorResponseSchema,
  modelListSchema,
  modelSchema,
  textCompletionSchema,
} from '../index';

// One sample per shape Switchyard sends, built to our zod schema, then checked against OpenAI's.
const created = 1764000000;
const usage = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };
const samples: Array<[string, OpenAISchemaName, z.ZodType, unknown]> = [
  ['chat completion', 'CreateChatCompletionResponse', chatCompletionSchema, {
    id: 'chatcmpl-1', object: 'chat.completion', created, model: 'llama3.1:8b',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there.', refusal: null }, finish_reason: 'stop', logprobs: null }],
    usage,
  }],
  ['chat completion with tool calls', 'CreateChatCompletionResponse', chatCompletionSchema, {
    id: 'chatcmpl-2', object: 'chat.completion', created, model: 'llama3.1:8b',
    choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }, finish_reason: 'tool_calls', logprobs: null }],
    usage,
  }],
  ['first chunk', 'CreateChatCompletionStreamResponse', chatCompletionChunkSchema, {
    id: 'chatcmpl-3', object: 'chat.completion.chunk', created, model: 'llama3.1:8b',
    choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null, logprobs: null }],
  }],
  ['finish chunk', 'CreateChatCompletionStreamResponse', chatCompletionChunkSchema, {
    id: 'chatcmpl-3', object: 'chat.completion.chunk', created, model: 'llama3.1:8b',
    choices: [{ index: 0, delta: {}, finish_reason: 'length', logprobs: null }],
  }],
  ['tool call chunk', 'CreateChatCompletionStreamResponse', chatCompletionChunkSchema, {
    id: 'chatcmpl-3', object: 'chat.completion.chunk', created, model: 'llama3.1:8b',
    choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: null }],
  }],
  ['usage chunk', 'CreateChatCompletionStreamResponse', chatCompletionChunkSchema, {
    id: 'chatcmpl-3', object: 'chat.completion.chunk', created, model: 'llama3.1:8b', choices: [], usage,
  }],
  ['text completion', 'CreateCompletionResponse', textCompletionSchema, {
    id: 'cmpl-1', object: 'text_completion', created, model: 'codellama:13b',
    choices: [{ text: 'return a + b;', index: 0, logprobs: null, finish_reason: 'stop' }], usage,
  }],
  ['embeddings', 'CreateEmbeddingResponse', embeddingsResponseSchema, {
    object: 'list', model: 'nomic-embed-text', data: [{ index: 0, object: 'embedding', embedding: [0.1, -0.2, 0.3] }],
    usage: { prompt_tokens: 3, total_tokens: 3 },
  }],
  ['model list', 'ListModelsResponse', modelListSchema, {
    object: 'list',
    data: [{ id: 'llama3.1:8b', object: 'model', created, owned_by: 'switchyard', switchyard: { resident: true, workers: 2, context_window: 8192, pool: 'shared' } }],
  }],
  ['model', 'Model', modelSchema, { id: 'codestral:22b', object: 'model', created, owned_by: 'switchyard' }],
  ['error', 'ErrorResponse', errorResponseSchema, {
    error: { message: "The model 'nope' does not exist", type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
  }],
];

describe('every response shape satisfies OpenAI\'s official schema', () => {
  for (const [label, openaiName, ours, body] of samples) {
    test(label, () => {
      ours.parse(body);
      assertOpenAISchema(openaiName, body);
    });
  }
});

test('base64 embeddings (what the openai SDK asks for by default) fit our schema', () => {
  // OpenAI's description types `embedding` as number[] only, although its API (and the SDK, which
  // decodes it) uses a base64 string for encoding_format=base64; only our schema is checked here.
  embeddingsResponseSchema.parse({
    object: 'list', model: 'nomic-embed-text', data: [{ index: 0, object: 'embedding', embedding: 'zczMPc3MTL6amZk+' }],
    usage: { prompt_tokens: 3, total_tokens: 3 },
  });
});

test('the validator does reject a body OpenAI clients would choke on', () => {
  assert.throws(() => assertOpenAISchema('CreateChatCompletionResponse', { id: 'x', object: 'chat.completion', created, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'x' } }] }), /finish_reason/);
  assert.throws(() => assertOpenAISchema('ErrorResponse', { error: { message: 'm' } }), /type/);
});
