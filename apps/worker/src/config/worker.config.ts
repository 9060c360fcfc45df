import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';

export const workerEnvSchema = z.object({
  ...commonEnv,
  PORT: port(8083),
});

export type WorkerConfig = z.infer<typeof workerEnvSchema>;

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  return loadConfig(workerEnvSchema, env);
}
