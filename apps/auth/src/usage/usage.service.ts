import { Injectable } from '@nestjs/common';
import { InvalidRequestError, NotFoundError } from '../common/errors';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { AuthMetrics } from '../metrics/auth-metrics';
import { recordUsageSchema, type UsageQuery } from './usage.schema';
import { UsageRepository, type UsageAggregate } from './usage.repository';

export interface UsageReport {
  rows: UsageAggregate[];
  totals: { requests: number; promptTokens: number; completionTokens: number };
}

/** Keys whose user is remembered (a key's user never changes), so recording usage costs no lookup. */
const KEY_OWNERS_KEPT = 10_000;

@Injectable()
export class UsageService {
  private readonly owners = new Map<string, string>();

  constructor(
    private readonly usage: UsageRepository,
    private readonly keys: ApiKeysRepository,
    private readonly metrics: AuthMetrics,
  ) {}

  /**
   * Records one request's usage; the key's user is taken from the key. Idempotent by request id:
   * returns `recorded: false` when that request was already recorded. `tokens` is what was added.
   */
  async record(input: unknown): Promise<{ recorded: boolean; keyId: string; tokens: number }> {
    const parsed = recordUsageSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue.path.join('.') || null;
      throw new InvalidRequestError(`${param ?? 'request'} ${issue.message}`, param);
    }
    const u = parsed.data;
    const userId = await this.ownerOf(u.keyId);
    const recorded = await this.usage.record({
      requestId: u.requestId,
      keyId: u.keyId,
      userId,
      model: u.model,
      promptTokens: u.promptTokens,
      completionTokens: u.completionTokens,
      queueMs: u.queueMs,
      generationMs: u.generationMs,
      workerId: u.workerId,
      outcome: u.outcome || 'ok',
      pool: u.pool || 'shared',
      createdAt: u.createdAtMs > 0 ? new Date(u.createdAtMs) : new Date(),
    });
    this.metrics.usageRecordsTotal.inc({ outcome: recorded ? 'recorded' : 'duplicate' });
    if (recorded) {
      this.metrics.usageTokensTotal.inc({ model: u.model, kind: 'prompt' }, u.promptTokens);
      this.metrics.usageTokensTotal.inc({ model: u.model, kind: 'completion' }, u.completionTokens);
    }
    return { recorded, keyId: u.keyId, tokens: recorded ? u.promptTokens + u.completionTokens : 0 };
  }

  private async ownerOf(keyId: string): Promise<string> {
    const known = this.owners.get(keyId);
    if (known !== undefined) return known;
    const key = await this.keys.findById(keyId);
    if (!key) throw new NotFoundError('key', 'keyId');
    if (this.owners.size >= KEY_OWNERS_KEPT) this.owners.clear();
    this.owners.set(keyId, key.userId);
    return key.userId;
  }

  /** Aggregates per key, model and UTC day, with totals. */
  async report(q: UsageQuery): Promise<UsageReport> {
    const rows = await this.usage.aggregate({ userId: q.userId, keyId: q.keyId, fromDay: q.from, toDay: q.to });
    const totals = { requests: 0, promptTokens: 0, completionTokens: 0 };
    for (const r of rows) {
      totals.requests += r.requests;
      totals.promptTokens += r.promptTokens;
      totals.completionTokens += r.completionTokens;
    }
    return { rows, totals };
  }
}
