import path from 'node:path';
import { z } from 'zod';
import { commonEnv, loadConfig, port } from '@switchyard/config';
import { splitHostPort } from './ports';

export const REPO_ROOT = path.resolve(__dirname, '../../..');

const urlList = z
  .string()
  .transform((s) => s.split(',').map((u) => u.trim()).filter(Boolean))
  .pipe(z.array(z.string().url()).min(1));

const hostPort = z.string().refine((v) => (splitHostPort(v)?.port ?? 0) > 0, 'expected host:port with a fixed port');

const launcherEnvObject = z.object({
  ...commonEnv,
  PORT: port(8080),
  AUTH_PORT: port(8081),
  SCHEDULER_PORT: port(8082),
  WORKER_BASE_PORT: port(8090),
  /** The batch service (Files and Batch APIs; the edge relays /v1/files and /v1/batches to it). */
  BATCH_PORT: port(8084),
  AUTH_GRPC_URL: z.string().default('127.0.0.1:50051'),
  /** The first scheduler replica's gRPC address; replica i listens on its port + i. */
  SCHEDULER_GRPC_URL: hostPort.default('127.0.0.1:50052'),
  /** Scheduler replicas (one leads, the others stand by); replica i on SCHEDULER_PORT + i. */
  SCHEDULER_REPLICAS: z.coerce.number().int().min(1).max(5).default(2),
  OLLAMA_URLS: urlList.optional(),
  SIM_GPUS: z.coerce.number().int().min(1).max(16).default(2),
  /** More simulated GPUs, after those: their workers serve only the performance pool (keys and batches of that pool). */
  SIM_PERFORMANCE_GPUS: z.coerce.number().int().min(0).max(8).default(0),
  SIM_TIME_SCALE: z.coerce.number().positive().default(1),
  SIM_PORT: port(0),
  /** Each simulated GPU's memory (the simulator's --vram-gb); the workers are told it (WORKER_GPU_MEMORY_GB). */
  SIM_VRAM_GB: z.coerce.number().positive().default(80),
  DATABASE_URL: z.string().optional(),
  AUTH_DATA_DIR: z.string().default(path.join(REPO_ROOT, '.data/auth')),
  /** The batch service's PGlite folder when DATABASE_URL is unset. */
  BATCH_DATA_DIR: z.string().default(path.join(REPO_ROOT, '.data/batch')),
  SWITCHYARD_DEMO_KEY: z.string().regex(/^sk-[A-Za-z0-9_-]{16,200}$/, 'must look like sk-... (16+ characters after sk-)').optional(),
  SWITCHYARD_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** The secret the edge presents to the batch service; generated once and kept beside the admin token when unset. */
  BATCH_INTERNAL_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  MODEL_CATALOGUE: z.string().default(path.join(REPO_ROOT, 'deploy/models.yaml')),
  WORKER_SLOTS: z.coerce.number().int().min(1).max(64).default(4),
  LOG_DIR: z.string().default(path.join(REPO_ROOT, '.data/logs')),
});

/** Simulated GPUs `npm start` runs when OLLAMA_URLS is unset: the shared pool's, then the performance pool's. */
export function simulatedGpus(c: Pick<z.infer<typeof launcherEnvObject>, 'SIM_GPUS' | 'SIM_PERFORMANCE_GPUS'>): number {
  return c.SIM_GPUS + c.SIM_PERFORMANCE_GPUS;
}

/** The HTTP port each service will take (service, port, the variable that sets it), so two never share one. */
function httpPorts(c: z.infer<typeof launcherEnvObject>): Array<[string, number, string]> {
  const range = (name: string, base: number, n: number, variable: string) =>
    Array.from({ length: n }, (_, i): [string, number, string] => [`${name}-${i}`, base + i, variable]);
  return [
    ['edge', c.PORT, 'PORT'],
    ['auth', c.AUTH_PORT, 'AUTH_PORT'],
    ['batch', c.BATCH_PORT, 'BATCH_PORT'],
    ...range('scheduler', c.SCHEDULER_PORT, c.SCHEDULER_REPLICAS, 'SCHEDULER_PORT'),
    ...range('worker', c.WORKER_BASE_PORT, c.OLLAMA_URLS?.length ?? simulatedGpus(c), 'WORKER_BASE_PORT'),
  ];
}

/** Everything `npm start` reads; every variable is documented in the README's configuration table. */
export const launcherEnvSchema = launcherEnvObject.superRefine((c, ctx) => {
  const grpc = splitHostPort(c.SCHEDULER_GRPC_URL);
  if (grpc && grpc.port + c.SCHEDULER_REPLICAS - 1 > 65535) {
    ctx.addIssue({ code: 'custom', path: ['SCHEDULER_GRPC_URL'], message: `leaves no room for ${c.SCHEDULER_REPLICAS} replicas on consecutive ports` });
  }
  const taken = new Map<number, string>();
  for (const [name, p, variable] of httpPorts(c)) {
    const other = taken.get(p);
    if (p > 65535) ctx.addIssue({ code: 'custom', path: [variable], message: `${name} would listen on ${p}, past 65535` });
    else if (other) ctx.addIssue({ code: 'custom', path: [variable], message: `${name} and ${other} would both listen on ${p}` });
    else taken.set(p, name);
  }
});

export type LauncherConfig = z.infer<typeof launcherEnvSchema>;

export function loadLauncherConfig(env: NodeJS.ProcessEnv = process.env): LauncherConfig {
  return loadConfig(launcherEnvSchema, env);
}
