import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';

export const edgeEnvSchema = z.object({
  ...commonEnv,
  PORT: port(8080),
});

export type EdgeConfig = z.infer<typeof edgeEnvSchema>;

export const EDGE_CONFIG = Symbol('EDGE_CONFIG');

export function loadEdgeConfig(env: NodeJS.ProcessEnv = process.env): EdgeConfig {
  return loadConfig(edgeEnvSchema, env);
}
