import type { AuthEvent } from '@switchyard/contracts';
import type { Verdict } from './auth.client';

interface Entry {
  verdict: Verdict;
  expiresAt: number;
}

/**
 * The in-process cache of key verdicts, keyed by a hash of the key (the key itself is never kept).
 * Entries live `ttlMs` at most (less if the key expires sooner). Every auth event bumps a generation
 * number, so a VerifyKey answer that was in flight while a key was revoked is not cached.
 */
export class VerdictCache {
  private readonly entries = new Map<string, Entry>();
  private gen = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.entries.size;
  }

  get(hash: string, now = Date.now()): Verdict | undefined {
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.entries.delete(hash);
      return undefined;
    }
    return e.verdict;
  }

  /** Caches a verdict obtained while the cache was at `generation`; ignored if an event came since. */
  set(hash: string, verdict: Verdict, generation: number, now = Date.now()): void {
    if (generation !== this.gen) return;
    let expiresAt = now + this.ttlMs;
    if (verdict.expiresAtMs > 0) expiresAt = Math.min(expiresAt, verdict.expiresAtMs);
    this.entries.delete(hash);
    this.entries.set(hash, { verdict, expiresAt });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  /** Drops the verdicts an auth event affects (all of them when it names neither key nor user). */
  drop(event: AuthEvent | undefined): number {
    this.gen++;
    let dropped = 0;
    for (const [hash, e] of this.entries) {
      const all = !event || (!event.keyId && !event.userId);
      if (all || (event.keyId && e.verdict.keyId === event.keyId) || (event.userId && e.verdict.userId === event.userId)) {
        this.entries.delete(hash);
        dropped++;
      }
    }
    return dropped;
  }

  /** Adds tokens this edge saw a key spend, so its budget check tightens before the next VerifyKey. */
  addUsage(hash: string, tokens: number): void {
    const e = this.entries.get(hash);
    if (e) e.verdict = { ...e.verdict, budgetUsed: e.verdict.budgetUsed + tokens };
  }
}
