import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { z } from 'zod';
import { loadConfig } from '@switchyard/config';
import { createLogger, type Logger } from '@switchyard/observability';
import { authEnvSchema, type AuthConfig } from '../config/auth.config';
import type { Database } from '@switchyard/database';
import { AUTH_MIGRATIONS, MIGRATIONS, type Migration } from '../storage/migrations';
import { openDatabase, pgliteDataDir } from '../storage/open-database';

/**
 * Test helpers for the auth service (used only by *.int-spec.ts): a fresh PGlite data folder or
 * a fresh PostgreSQL schema per test run, so parallel runs never collide, and both cleaned up.
 */

const testEnvSchema = z.object({
  TEST_DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/test'),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
});
export const testEnv = loadConfig(testEnvSchema);

export type TestDbKind = 'pglite' | 'postgres';
export const TEST_DB_KINDS: readonly TestDbKind[] = ['pglite', 'postgres'];

const PGLITE_VERSION = '0.5.16';

/**
 * initdb of PGlite takes seconds; opening an existing cluster takes a fraction of that. The first
 * test process builds an empty cluster once (per machine and PGlite version); each run copies it.
 */
async function pgliteTemplate(): Promise<string> {
  const template = path.join(os.tmpdir(), `switchyard-auth-pglite-template-${PGLITE_VERSION}`);
  if (existsSync(path.join(template, 'PG_VERSION'))) return template;
  const building = `${template}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const pg = await PGlite.create(building);
  await pg.close();
  try {
    renameSync(building, template);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another process won the race
  }
  return template;
}

/** A fresh AUTH_DATA_DIR holding an empty PGlite cluster; `cleanup` deletes it. */
export async function freshDataDir(): Promise<{ dataDir: string; cleanup: () => void }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'switchyard-auth-test-'));
  return { dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}

export async function seedPglite(dataDir: string): Promise<void> {
  cpSync(await pgliteTemplate(), pgliteDataDir({ AUTH_DATA_DIR: dataDir }), { recursive: true });
}

export function randomSuffix(): string {
  return `${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A schema name unique to this run; `drop` removes it with everything inside. */
export function testSchema(): { schema: string; drop: () => Promise<void> } {
  const schema = `auth_test_${randomSuffix()}`;
  return {
    schema,
    drop: async () => {
      const client = new Client({ connectionString: testEnv.TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await client.end();
      }
    },
  };
}

export const silentLogger = (): Logger => createLogger({ service: 'auth-test', level: 'silent' });

/**
 * An AuthConfig for a test: fresh storage of the given kind, ephemeral ports, a random Redis
 * prefix, a fixed admin token. `cleanup` removes the storage.
 */
export async function testAuthConfig(kind: TestDbKind, env: Record<string, string> = {}): Promise<{ config: AuthConfig; cleanup: () => Promise<void> }> {
  const { dataDir, cleanup: rmDir } = await freshDataDir();
  const base: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    AUTH_GRPC_URL: '127.0.0.1:0',
    AUTH_DATA_DIR: dataDir,
    REDIS_URL: testEnv.REDIS_URL,
    SWITCHYARD_PREFIX: `authtest_${randomSuffix()}`,
    SWITCHYARD_ADMIN_TOKEN: `test-admin-token-${randomBytes(16).toString('hex')}`,
    LOG_LEVEL: 'silent',
  };
  let dropSchema: () => Promise<void> = async () => undefined;
  if (kind === 'postgres') {
    const s = testSchema();
    base.DATABASE_URL = testEnv.TEST_DATABASE_URL;
    base.AUTH_DB_SCHEMA = s.schema;
    dropSchema = s.drop;
  } else {
    await seedPglite(dataDir);
  }
  const config = loadConfig(authEnvSchema, { ...base, ...env });
  return {
    config,
    cleanup: async () => {
      await dropSchema();
      rmDir();
    },
  };
}

/** An open Database of the given kind, migrated (by default with every migration), for repository tests. */
export async function openTestDatabase(kind: TestDbKind, migrations: readonly Migration[] = MIGRATIONS): Promise<{ db: Database; cleanup: () => Promise<void> }> {
  const { config, cleanup } = await testAuthConfig(kind);
  const db = await openDatabase(config, silentLogger(), { ...AUTH_MIGRATIONS, migrations });
  return {
    db,
    cleanup: async () => {
      await db.close();
      await cleanup();
    },
  };
}
