import { Registry } from 'prom-client';
import type { Job } from 'bullmq';
import type { InferenceJob, UsageEntry } from '@switchyard/contracts';
import { InferenceProcessor } from '../jobs/inference.processor';
import { RunningJobs } from '../jobs/running-jobs.registry';
import { WorkerMetrics } from '../metrics/worker.metrics';
import type { OllamaFailure } from '../ollama/ollama-health.service';
import { RelayPublisher } from '../relay/relay.publisher';
import { UsageRecorder, type UsageTransport } from '../usage/usage.client';
import { FakeOllama } from './fake-ollama';
import { RecordingSink } from './recording-sink';
import { testLogger } from './test-logger';

/** Records appended usage entries; can fail the first `failures` appends. */
export class FakeUsageTransport implements UsageTransport {
  readonly calls: UsageEntry[] = [];
  failures = 0;
  async append(entry: UsageEntry): Promise<void> {
    this.calls.push(entry);
    if (this.failures > 0) {
      this.failures--;
      throw new Error('Connection is closed.');
    }
  }
}

export class FakeHealth {
  readonly failures: OllamaFailure[] = [];
  successes = 0;
  reportFailure(kind: OllamaFailure): void {
    this.failures.push(kind);
  }
  reportSuccess(): void {
    this.successes++;
  }
}

/** An InferenceProcessor wired to fakes, for unit tests. */
export function processorWithFakes() {
  const logger = testLogger();
  const registry = new Registry();
  const metrics = new WorkerMetrics(registry);
  const ollama = new FakeOllama();
  const sink = new RecordingSink();
  const usageTransport = new FakeUsageTransport();
  const health = new FakeHealth();
  const running = new RunningJobs(metrics);
  const config = { SWITCHYARD_PREFIX: 'tp', WORKER_ID: 'w-test', WORKER_RELAY_COALESCE_MS: 10, WORKER_USAGE_ATTEMPTS: 3 };
  const usage = new UsageRecorder(usageTransport, config, logger);
  usage.retryBaseMs = 1;
  const processor = new InferenceProcessor(ollama, health, new RelayPublisher(sink, config, logger), usage, running, metrics, logger);
  return { processor, ollama, sink, usageTransport, usage, health, running, metrics, registry };
}

/** The parts of a BullMQ Job the processor reads. */
export function bullJob(data: InferenceJob | Record<string, unknown>, opts: { attemptsMade?: number; attempts?: number; name?: string } = {}): Job {
  return {
    id: (data as { requestId?: string }).requestId ?? 'x',
    name: opts.name ?? 'inference',
    data,
    attemptsMade: opts.attemptsMade ?? 0,
    opts: { attempts: opts.attempts ?? 3 },
  } as unknown as Job;
}
