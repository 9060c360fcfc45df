import path from 'node:path';
import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';

export const REPO_ROOT = path.resolve(__dirname, '../../..');

const urlList = z
  .string()
  .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
  .pipe(z.array(z.string().url()).min(1));

/** Everything `npm start` reads; every variable is documented in the README's configuration table. */
export const launcherEnvSchema = z.object({
  ...commonEnv,
  PORT: port(8080),
  AUTH_PORT: port(8081),
  SCHEDULER_PORT: port(8082),
  WORKER_BASE_PORT: port(8090),
  AUTH_GRPC_URL: z.string().default('127.0.0.1:50051'),
  SCHEDULER_GRPC_URL: z.string().default('127.0.0.1:50052'),
  OLLAMA_URLS: urlList.optional(),
  SIM_GPUS: z.coerce.number().int().min(1).max(16).default(2),
  SIM_TIME_SCALE: z.coerce.number().positive().default(1),
  SIM_PORT: port(0),
  DATABASE_URL: z.string().optional(),
  AUTH_DATA_DIR: z.string().default(path.join(REPO_ROOT, '.data/auth')),
  SWITCHYARD_DEMO_KEY: z.string().regex(/^sk-[A-Za-z0-9_-]{16,200}$/, 'must look like sk-... (16+ characters after sk-)').optional(),
  SWITCHYARD_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  MODEL_CATALOGUE: z.string().default(path.join(REPO_ROOT, 'deploy/models.yaml')),
  WORKER_SLOTS: z.coerce.number().int().min(1).max(64).default(4),
  LOG_DIR: z.string().default(path.join(REPO_ROOT, '.data/logs')),
});

export type LauncherConfig = z.infer<typeof launcherEnvSchema>;

export function loadLauncherConfig(env: NodeJS.ProcessEnv = process.env): LauncherConfig {
  return loadConfig(launcherEnvSchema, env);
}
