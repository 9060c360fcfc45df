/** Minimal argv parsing: positionals, `--flag value`, `--flag=value` and boolean flags. */
export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string>;
  flags: Set<string>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(argv: readonly string[], booleanFlags: ReadonlySet<string>): ParsedArgs {
  const out: ParsedArgs = { positionals: [], options: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '--') {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    if (booleanFlags.has(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out.flags.add(name);
      continue;
    }
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    out.options.set(name, value);
  }
  return out;
}

/** Parses `30d`, `12h`, `90m`, `3600s` or an ISO 8601 date/instant into an instant. */
export function parseExpiry(value: string, now = Date.now()): Date {
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now + Number(rel[1]) * unit * 1000);
  }
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new UsageError(`--expires: '${value}' is neither a duration (30d, 12h) nor a date`);
  return at;
}
