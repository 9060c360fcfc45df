import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readText, repoPath } from './repo';

export const SERVICES = ['edge', 'auth', 'scheduler', 'worker', 'batch'] as const;
export type Service = (typeof SERVICES)[number];

/** HTTP port (`PORT`) of each service, as libs/contracts/README.md gives them. */
export const HTTP_PORT: Record<Service, number> = { edge: 8080, auth: 8081, scheduler: 8082, worker: 8083, batch: 8084 };
export const GRPC_PORT = { auth: 50051, scheduler: 50052 } as const;

/**
 * The environment variables a service's config schema reads: the keys of the zod objects in
 * apps/<service>/src/config/*.ts plus the shared ones of libs/config (commonEnv).
 */
export function configVariables(service: Service): Set<string> {
  const dir = repoPath('apps', service, 'src', 'config');
  const sources = [readText('libs', 'config', 'src', 'common.schema.ts')];
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.ts') && !f.endsWith('.spec.ts')) sources.push(readFileSync(`${dir}/${f}`, 'utf8'));
  const names = new Set<string>();
  for (const source of sources) for (const m of source.matchAll(/^\s+([A-Z][A-Z0-9_]*)\s*:/gm)) names.add(m[1]);
  return names;
}
