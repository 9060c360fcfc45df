import type { z } from 'zod';
import { Errors } from './openai-error';

/**
 * Validates a request body with its zod schema; the first problem becomes OpenAI's 400 naming the
 * parameter (`messages[0].content`), so clients see which field is wrong.
 */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw Errors.badRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)",
      null,
      'invalid_json',
    );
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = explain(r.error.issues[0]);
  const param = formatPath(issue.path);
  const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
  const message = missing ? `Missing required parameter: '${param}'.` : `Invalid value for '${param || 'body'}': ${issue.message}`;
  throw Errors.badRequest(message, param || null, missing ? 'missing_required_parameter' : 'invalid_value');
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

type Issue = z.core.$ZodIssue;

/**
 * The issue worth telling: for a value that matched none of a union's branches, the branch it was
 * closest to (not a mere type mismatch) — "at most 16 stop sequences", not "Invalid input".
 */
function explain(issue: Issue): Issue {
  if (issue.code !== 'invalid_union') return issue;
  const near = issue.errors.find((branch) => branch.length > 0 && branch[0].code !== 'invalid_type');
  if (!near) return issue;
  return explain({ ...near[0], path: [...issue.path, ...near[0].path] } as Issue);
}
