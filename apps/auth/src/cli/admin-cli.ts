import { loadCliConfig } from '../config/auth.config';
import { adminTokenPath, readTokenFile } from '../admin/admin-token.service';
import type { KeyView, UserView } from '../admin/views';
import type { PolicyView } from '../policies/policy-view';
import type { UsageReport } from '../usage/usage.service';
import { AdminApiError, AdminClient } from './admin.client';
import { parseArgs, parseExpiry, UsageError, type ParsedArgs } from './args';

export const HELP = `Switchyard auth admin CLI — talks to the admin REST API.

Usage: npm run admin -- <command> [options]

  users create NAME [policy options]        create a user (policy = defaults for its keys)
  users list
  users policy NAME [policy options]        show, or change, a user's default policy
  keys create --user NAME [--name LABEL] [--expires 30d|ISO] [policy options]
                                            create a key (and the user if absent); prints the key once
  keys list [--user NAME] [--active]
  keys show KEY_ID
  keys revoke KEY_ID
  keys rotate KEY_ID [--grace SECONDS]      new key, same settings; old one revoked (or expires after grace)
  keys policy KEY_ID [policy options]       show, or change, a key's policy overrides
  usage [--user NAME] [--key KEY_ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD]

Policy options ("inherit" clears an override):
  --models all|m1,m2   --rpm N   --tpm N   --budget TOKENS   --budget-period day|month
  --priority interactive|bulk   --pool shared|performance
  --share WEIGHT (a key's share of a model's queue against other keys; 1 = an equal share)

Global: --json (machine-readable output)
Environment: SWITCHYARD_AUTH_URL (default http://127.0.0.1:8081), SWITCHYARD_ADMIN_TOKEN
  (default: the token the service generated in AUTH_DATA_DIR/admin-token, AUTH_DATA_DIR default .data/auth)
`;

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (line: string) => void;
  err: (line: string) => void;
  fetch?: typeof fetch;
}

const BOOLEAN_FLAGS = new Set(['json', 'help', 'active']);

interface KeyDetail extends KeyView {
  policy: PolicyView;
}
interface IssuedKey extends KeyDetail {
  key: string;
}

/** Runs one CLI command; returns the process exit code (0 ok, 1 failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv, BOOLEAN_FLAGS);
  } catch (e) {
    io.err(`error: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.flags.has('help') || args.positionals.length === 0 || args.positionals[0] === 'help') {
    io.out(HELP);
    return args.positionals.length === 0 && !args.flags.has('help') ? 2 : 0;
  }
  let config;
  try {
    config = loadCliConfig(io.env);
  } catch (e) {
    io.err((e as Error).message);
    return 2;
  }
  const token = config.SWITCHYARD_ADMIN_TOKEN ?? readTokenFile(adminTokenPath(config.AUTH_DATA_DIR));
  if (!token) {
    io.err(`error: no admin token: set SWITCHYARD_ADMIN_TOKEN (or run from the folder where the service wrote ${adminTokenPath(config.AUTH_DATA_DIR)})`);
    return 2;
  }
  const cli = new Commands(new AdminClient(config.SWITCHYARD_AUTH_URL, token, io.fetch), args, io);
  try {
    await cli.dispatch();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n(see --help)`);
      return 2;
    }
    if (e instanceof AdminApiError) {
      const code = e.body?.error.code ? ` (${e.body.error.code})` : '';
      io.err(`error: ${e.message}${code}`);
      return 1;
    }
    if (e instanceof TypeError && e.message === 'fetch failed') {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      io.err(`error: cannot reach the auth service at ${config.SWITCHYARD_AUTH_URL} (${cause?.code ?? cause?.message ?? 'network error'})`);
      return 1;
    }
    io.err(`error: ${(e as Error).message}`);
    return 1;
  }
}

class Commands {
  private readonly json: boolean;

  constructor(
    private readonly api: AdminClient,
    private readonly args: ParsedArgs,
    private readonly io: CliIo,
  ) {
    this.json = args.flags.has('json');
  }

  async dispatch(): Promise<void> {
    const [group, action, ...rest] = this.args.positionals;
    const key = `${group} ${action ?? ''}`.trim();
    switch (key) {
      case 'users create':
        return this.usersCreate(one(rest, 'NAME'));
      case 'users list':
        return this.usersList();
      case 'users policy':
        return this.usersPolicy(one(rest, 'NAME'));
      case 'keys create':
        return this.keysCreate();
      case 'keys list':
        return this.keysList();
      case 'keys show':
        return this.keysShow(one(rest, 'KEY_ID'));
      case 'keys revoke':
        return this.keysRevoke(one(rest, 'KEY_ID'));
      case 'keys rotate':
        return this.keysRotate(one(rest, 'KEY_ID'));
      case 'keys policy':
        return this.keysPolicy(one(rest, 'KEY_ID'));
      default:
        if (group === 'usage') return this.usage(action === undefined ? [] : [action, ...rest]);
        throw new UsageError(`unknown command '${key}'`);
    }
  }

  private async usersCreate(name: string): Promise<void> {
    const policy = this.policyPatch();
    const user = await this.api.post<UserView>('/users', { name, ...(policy ? { policy } : {}) });
    this.print(user, () => `Created user ${user.name} (${user.id}).`);
  }

  private async usersList(): Promise<void> {
    const { data } = await this.api.get<{ data: UserView[] }>('/users', { limit: '1000' });
    this.print(data, () => table(['ID', 'NAME', 'CREATED'], data.map((u) => [u.id, u.name, u.createdAt])));
  }

  private async usersPolicy(name: string): Promise<void> {
    const user = await this.userByName(name);
    const patch = this.policyPatch();
    const view = patch ? await this.api.patch<PolicyView>(`/users/${user.id}/policy`, patch) : await this.api.get<PolicyView>(`/users/${user.id}/policy`);
    this.print(view, () => `${patch ? 'Updated' : 'Policy of'} user ${user.name}:\n${policyText(view)}`);
  }

  private async keysCreate(): Promise<void> {
    const userName = this.opt('user');
    if (!userName) throw new UsageError('keys create needs --user NAME');
    const expires = this.opt('expires');
    const expiresAt = expires ? parseExpiry(expires).toISOString() : undefined;
    const policy = this.policyPatch();
    const user = await this.ensureUser(userName);
    const issued = await this.api.post<IssuedKey>('/keys', {
      userId: user.id,
      ...(this.opt('name') !== undefined ? { name: this.opt('name') } : {}),
      ...(expiresAt ? { expiresAt } : {}),
      ...(policy ? { policy } : {}),
    });
    this.print(issued, () =>
      [
        `Created key ${issued.id} for user ${issued.userName}${issued.expiresAt ? `, expires ${issued.expiresAt}` : ''}.`,
        '',
        `    ${issued.key}`,
        '',
        'Store it now: it is shown only this once.',
        policyText(issued.policy),
      ].join('\n'),
    );
  }

  private async keysList(): Promise<void> {
    const userName = this.opt('user');
    const user = userName ? await this.userByName(userName) : undefined;
    const { data } = await this.api.get<{ data: KeyView[] }>('/keys', {
      userId: user?.id,
      includeRevoked: this.args.flags.has('active') ? 'false' : 'true',
      limit: '1000',
    });
    this.print(data, () =>
      table(
        ['ID', 'USER', 'KEY', 'STATUS', 'NAME', 'CREATED', 'EXPIRES'],
        data.map((k) => [k.id, k.userName, k.display, k.status, k.name, k.createdAt, k.expiresAt ?? '-']),
      ),
    );
  }

  private async keysShow(id: string): Promise<void> {
    const k = await this.api.get<KeyDetail>(`/keys/${encodeURIComponent(id)}`);
    this.print(k, () => `${k.id}  ${k.display}  user ${k.userName}  ${k.status}${k.expiresAt ? `  expires ${k.expiresAt}` : ''}\n${policyText(k.policy)}`);
  }

  private async keysRevoke(id: string): Promise<void> {
    const k = await this.api.post<KeyView>(`/keys/${encodeURIComponent(id)}/revoke`);
    this.print(k, () => `Revoked key ${k.id} (${k.display}) of user ${k.userName}.`);
  }

  private async keysRotate(id: string): Promise<void> {
    const grace = this.opt('grace');
    if (grace !== undefined && !/^\d+$/.test(grace)) throw new UsageError('--grace takes a number of seconds');
    const r = await this.api.post<IssuedKey & { previous: KeyView }>(`/keys/${encodeURIComponent(id)}/rotate`, grace ? { graceSeconds: Number(grace) } : {});
    this.print(r, () =>
      [
        `Rotated ${r.previous.id} → ${r.id} (user ${r.userName}).`,
        '',
        `    ${r.key}`,
        '',
        'Store it now: it is shown only this once.',
        r.previous.status === 'revoked' ? `The old key ${r.previous.display} is revoked.` : `The old key ${r.previous.display} stops working at ${r.previous.expiresAt}.`,
      ].join('\n'),
    );
  }

  private async keysPolicy(id: string): Promise<void> {
    const patch = this.policyPatch();
    const path = `/keys/${encodeURIComponent(id)}/policy`;
    const view = patch ? await this.api.patch<PolicyView>(path, patch) : await this.api.get<PolicyView>(path);
    this.print(view, () => `${patch ? 'Updated' : 'Policy of'} key ${id}:\n${policyText(view)}`);
  }

  private async usage(rest: string[]): Promise<void> {
    if (rest.length > 0) throw new UsageError(`usage takes options only, not '${rest[0]}'`);
    const userName = this.opt('user');
    const user = userName ? await this.userByName(userName) : undefined;
    const report = await this.api.get<UsageReport>('/usage', { userId: user?.id, keyId: this.opt('key'), from: this.opt('from'), to: this.opt('to') });
    this.print(report, () =>
      [
        table(
          ['DAY', 'KEY', 'MODEL', 'REQUESTS', 'PROMPT', 'COMPLETION'],
          report.rows.map((r) => [r.day, r.keyId, r.model, String(r.requests), String(r.promptTokens), String(r.completionTokens)]),
        ),
        `total: ${report.totals.requests} requests, ${report.totals.promptTokens} prompt + ${report.totals.completionTokens} completion tokens`,
      ].join('\n'),
    );
  }

  private async userByName(name: string): Promise<UserView> {
    const { data } = await this.api.get<{ data: UserView[] }>('/users', { name });
    if (!data[0]) throw new AdminApiError(404, { error: { message: `No user named '${name}'.`, type: 'not_found_error', param: 'user', code: 'user_not_found' } });
    return data[0];
  }

  private async ensureUser(name: string): Promise<UserView> {
    const { data } = await this.api.get<{ data: UserView[] }>('/users', { name });
    if (data[0]) return data[0];
    try {
      const user = await this.api.post<UserView>('/users', { name });
      if (!this.json) this.io.err(`Created user ${user.name} (${user.id}).`);
      return user;
    } catch (e) {
      // Someone created it in between: use theirs.
      if (e instanceof AdminApiError && e.status === 409) return this.userByName(name);
      throw e;
    }
  }

  /** The policy options given, as a PATCH body; undefined when none was given. */
  private policyPatch(): Record<string, unknown> | undefined {
    const patch: Record<string, unknown> = {};
    const inherit = (v: string) => v === 'inherit';
    const int = (name: string, v: string) => {
      if (!/^\d+$/.test(v)) throw new UsageError(`--${name} takes a whole number (or "inherit")`);
      return Number(v);
    };
    const number = (name: string, v: string) => {
      if (!/^\d*\.?\d+$/.test(v)) throw new UsageError(`--${name} takes a number (or "inherit")`);
      return Number(v);
    };
    const map: [string, string, (v: string) => unknown][] = [
      ['models', 'models', (v) => (v === 'all' ? 'all' : v.split(',').map((m) => m.trim()).filter(Boolean))],
      ['rpm', 'requestsPerMinute', (v) => int('rpm', v)],
      ['tpm', 'tokensPerMinute', (v) => int('tpm', v)],
      ['budget', 'tokenBudget', (v) => int('budget', v)],
      ['budget-period', 'budgetPeriod', (v) => v],
      ['priority', 'priority', (v) => v],
      ['pool', 'pool', (v) => v],
      ['share', 'share', (v) => number('share', v)],
    ];
    for (const [flag, field, parse] of map) {
      const v = this.opt(flag);
      if (v !== undefined) patch[field] = inherit(v) ? null : parse(v);
    }
    return Object.keys(patch).length > 0 ? patch : undefined;
  }

  private opt(name: string): string | undefined {
    return this.args.options.get(name);
  }

  private print(value: unknown, human: () => string): void {
    this.io.out(this.json ? JSON.stringify(value, null, 2) : human());
  }
}

function one(rest: string[], what: string): string {
  if (rest.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return rest[0];
}

function policyText(view: PolicyView): string {
  const e = view.effective;
  const o = view.overrides as Record<string, unknown>;
  const mark = (field: string) => (o[field] !== null && o[field] !== undefined ? '' : ' (inherited)');
  const lim = (n: number) => (n === 0 ? 'unlimited' : String(n));
  return [
    `  models:         ${e.models === 'all' ? 'all' : e.models.join(', ')}${mark('models')}`,
    `  requests/min:   ${lim(e.requestsPerMinute)}${mark('requestsPerMinute')}`,
    `  tokens/min:     ${lim(e.tokensPerMinute)}${mark('tokensPerMinute')}`,
    `  token budget:   ${e.tokenBudget === 0 ? 'none' : `${e.tokenBudget} per ${e.budgetPeriod}`}${mark('tokenBudget')}`,
    `  priority:       ${e.priority}${mark('priority')}`,
    `  pool:           ${e.pool}${mark('pool')}`,
    `  share:          ${e.share}${mark('share')}`,
  ].join('\n');
}

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
