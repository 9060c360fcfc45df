import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { AuthEvent } from '@switchyard/contracts';
import { ApiKeysRepository } from '../api-keys/api-keys.repository';
import { hashApiKey, looksLikeApiKey } from '../api-keys/api-key-secret';
import { AUTH_CONFIG, type AuthConfig } from '../config/auth.config';
import { AuthEventsService } from '../events/auth-events.service';
import { effectivePolicy } from '../policies/policy';
import type { BudgetPeriod } from '../policies/policy.schema';
import { utcDay } from '../usage/usage.repository';
import type { Verdict } from './verdict';
import { VerifyCache } from './verify-cache';

/** First UTC day of the budget period that contains `now`. */
export function budgetPeriodStart(period: BudgetPeriod, now: Date): string {
  return period === 'day' ? utcDay(now) : `${utcDay(now).slice(0, 7)}-01`;
}

/**
 * Resolves an API key to its principal and policy: hash it, look the hash up (unique index),
 * refuse revoked and expired keys. Verdicts of valid keys are cached for a short TTL and
 * dropped at once on revocation and policy events.
 */
@Injectable()
export class KeyVerifierService implements OnModuleDestroy {
  readonly cache: VerifyCache;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeResync: () => void;

  constructor(
    @Inject(AUTH_CONFIG) config: AuthConfig,
    private readonly keys: ApiKeysRepository,
    events: AuthEventsService,
  ) {
    this.cache = new VerifyCache(config.AUTH_VERIFY_CACHE_TTL_MS, config.AUTH_VERIFY_CACHE_MAX);
    this.unsubscribe = events.onEvent((e) => this.onEvent(e));
    this.unsubscribeResync = events.onResync(() => this.cache.clear());
  }

  /** The verdict for a valid key; `undefined` for anything else (unknown, revoked, expired, malformed). */
  async verify(apiKey: unknown): Promise<Verdict | undefined> {
    if (!looksLikeApiKey(apiKey)) return undefined;
    const hash = hashApiKey(apiKey);
    const cacheKey = hash.toString('hex');
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;

    const generation = this.cache.generation;
    const now = new Date();
    const cred = await this.keys.findCredentialByHash(hash, { day: budgetPeriodStart('day', now), month: budgetPeriodStart('month', now) });
    if (!cred || cred.revokedAt || (cred.expiresAt && cred.expiresAt.getTime() <= now.getTime())) return undefined;
    const policy = effectivePolicy(cred.userOverrides, cred.keyOverrides);
    const budgetUsed = policy.tokenBudget === 0 ? 0 : policy.budgetPeriod === 'day' ? cred.tokensToday : cred.tokensThisMonth;
    const verdict: Verdict = {
      principal: { userId: cred.userId, userName: cred.userName, keyId: cred.id, keyDisplay: cred.display },
      policy,
      budgetUsed,
      expiresAt: cred.expiresAt,
    };
    this.cache.set(cacheKey, verdict, generation);
    return verdict;
  }

  /** Called after usage was recorded, so a cached verdict's budget use stays current. */
  noteUsage(keyId: string, tokens: number): void {
    if (tokens > 0) this.cache.addUsage(keyId, tokens);
  }

  onModuleDestroy(): void {
    this.unsubscribe();
    this.unsubscribeResync();
  }

  private onEvent(e: AuthEvent): void {
    switch (e.type) {
      case 'key.revoked':
      case 'key.policy_changed':
        if (e.keyId) this.cache.dropKey(e.keyId);
        else this.cache.clear();
        return;
      case 'user.policy_changed':
        if (e.userId) this.cache.dropUser(e.userId);
        else this.cache.clear();
        return;
      default: {
        const unreachable: never = e.type;
        this.cache.clear();
        throw new Error(`unhandled auth event ${String(unreachable)}`);
      }
    }
  }
}
