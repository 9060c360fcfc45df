import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const DEPLOY = path.join(REPO_ROOT, 'deploy');

export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}

export function readText(...parts: string[]): string {
  return readFileSync(repoPath(...parts), 'utf8');
}

/** Parses one YAML document (merge keys `<<:` resolved), failing on any YAML error or warning. */
export function readYaml(...parts: string[]): unknown {
  const doc = YAML.parseDocument(readText(...parts), { merge: true, prettyErrors: true });
  if (doc.errors.length > 0 || doc.warnings.length > 0) throw new Error(`${parts.join('/')}: ${[...doc.errors, ...doc.warnings].map((e) => e.message).join('; ')}`);
  return doc.toJS();
}

/** Parses every document of a multi-document YAML file. */
export function readYamlDocuments(...parts: string[]): unknown[] {
  const docs = YAML.parseAllDocuments(readText(...parts), { prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${parts.join('/')}: not a YAML stream`);
  return docs.map((doc) => {
    if (doc.errors.length > 0 || doc.warnings.length > 0) throw new Error(`${parts.join('/')}: ${[...doc.errors, ...doc.warnings].map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  }).filter((d) => d !== null && d !== undefined);
}

export function listFiles(dir: string, pattern: RegExp): string[] {
  return readdirSync(repoPath(dir)).filter((f) => pattern.test(f)).sort();
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as an object, or a thrown error naming `what`. */
export function asObject(value: unknown, what: string): Record<string, unknown> {
  if (!isObject(value)) throw new Error(`${what}: expected an object, got ${JSON.stringify(value)}`);
  return value;
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list, got ${JSON.stringify(value)}`);
  return value;
}

export function asString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`${what}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

/** The path of `promtool`, or undefined when it is not installed (Debian/Ubuntu: `apt-get install prometheus`). */
export function findPromtool(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'promtool' : undefined;
}

export const PROMTOOL_MISSING = 'promtool is not installed (Debian/Ubuntu: apt-get install -y prometheus)';
