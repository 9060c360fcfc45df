import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';

export const schedulerEnvSchema = z.object({
  ...commonEnv,
  PORT: port(8082),
});

export type SchedulerConfig = z.infer<typeof schedulerEnvSchema>;

export const SCHEDULER_CONFIG = Symbol('SCHEDULER_CONFIG');

export function loadSchedulerConfig(env: NodeJS.ProcessEnv = process.env): SchedulerConfig {
  return loadConfig(schedulerEnvSchema, env);
}
