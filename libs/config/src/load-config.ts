import { z } from 'zod';

/** Thrown at boot when the environment does not satisfy an app's schema; lists every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once with an app's zod schema. Every problem is reported together
 * (variable name and what is wrong), never one at a time; values are never echoed, since some
 * variables hold secrets.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    return `${name}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** Exit status for a configuration error (EX_CONFIG from sysexits.h). */
export const EXIT_CONFIG = 78;

/**
 * For a `main.ts`: runs the app's config loader; on a ConfigError prints the list of problems and
 * exits with EXIT_CONFIG instead of a stack trace. Any other error is rethrown.
 */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    return process.exit(EXIT_CONFIG);
  }
}
