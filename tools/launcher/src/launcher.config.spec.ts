import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@switchyard/config';
import { loadLauncherConfig } from './launcher.config';
import { offsetAddress } from './ports';

const problems = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadLauncherConfig(env);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
};

test('two scheduler replicas by default, one to five allowed', () => {
  assert.equal(loadLauncherConfig({}).SCHEDULER_REPLICAS, 2);
  assert.equal(loadLauncherConfig({ SCHEDULER_REPLICAS: '1' }).SCHEDULER_REPLICAS, 1);
  assert.equal(loadLauncherConfig({ SCHEDULER_REPLICAS: '5', BATCH_PORT: '8089' }).SCHEDULER_REPLICAS, 5);
  // Replicas take consecutive ports from 8082: a third one needs the batch service's 8084 moved.
  assert.deepEqual(problems({ SCHEDULER_REPLICAS: '3' }), ['SCHEDULER_PORT: scheduler-2 and batch would both listen on 8084']);
  assert.equal(problems({ SCHEDULER_REPLICAS: '0' }).length, 1);
  assert.equal(problems({ SCHEDULER_REPLICAS: '6', BATCH_PORT: '8089' }).length, 1);
});

test('replica i listens on the configured gRPC port + i', () => {
  assert.equal(offsetAddress('127.0.0.1:50052', 1), '127.0.0.1:50053');
  assert.equal(offsetAddress('[::1]:50052', 2), '[::1]:50054');
  assert.deepEqual(problems({ SCHEDULER_GRPC_URL: '127.0.0.1' }), ['SCHEDULER_GRPC_URL: expected host:port with a fixed port']);
  assert.deepEqual(problems({ SCHEDULER_GRPC_URL: '127.0.0.1:0' }), ['SCHEDULER_GRPC_URL: expected host:port with a fixed port']);
  assert.deepEqual(problems({ SCHEDULER_GRPC_URL: '127.0.0.1:65535' }), ['SCHEDULER_GRPC_URL: leaves no room for 2 replicas on consecutive ports']);
});

test('refuses HTTP ports that two services would share', () => {
  assert.deepEqual(problems({ SCHEDULER_PORT: '8089', SCHEDULER_REPLICAS: '3' }), [
    'WORKER_BASE_PORT: worker-0 and scheduler-1 would both listen on 8090',
    'WORKER_BASE_PORT: worker-1 and scheduler-2 would both listen on 8091',
  ]);
  assert.deepEqual(problems({ AUTH_PORT: '8080' }), ['AUTH_PORT: auth and edge would both listen on 8080']);
  assert.deepEqual(problems({ OLLAMA_URLS: 'http://a:11434,http://b:11434', WORKER_BASE_PORT: '8079' }), ['WORKER_BASE_PORT: worker-1 and edge would both listen on 8080']);
});
