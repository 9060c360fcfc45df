import type { Verdict } from './verdict';

interface Entry {
  verdict: Verdict;
  storedAt: number;
}

/**
 * Short-lived in-process cache of verified keys, keyed by the key's SHA-256 (hex), never by the
 * key. Only valid keys are cached, so random keys cannot fill it. Entries are dropped when their
 * TTL passes, when the key expires, and at once on a revocation or policy event.
 *
 * A lookup that started before an event must not store its (possibly stale) answer after the
 * event: every event bumps `generation`, and `set` refuses answers from an older generation.
 */
export class VerifyCache {
  private readonly byHash = new Map<string, Entry>();
  private readonly hashByKeyId = new Map<string, string>();
  private gen = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get size(): number {
    return this.byHash.size;
  }

  get generation(): number {
    return this.gen;
  }

  get(hash: string): Verdict | undefined {
    const entry = this.byHash.get(hash);
    if (!entry) return undefined;
    const now = this.now();
    const expired = entry.verdict.expiresAt !== null && entry.verdict.expiresAt.getTime() <= now;
    if (now - entry.storedAt >= this.ttlMs || expired) {
      this.delete(hash);
      return undefined;
    }
    return entry.verdict;
  }

  /** Stores a verdict looked up while the cache was at `generation`; ignored if an event came since. */
  set(hash: string, verdict: Verdict, generation: number): void {
    if (!this.enabled || generation !== this.gen) return;
    this.delete(hash);
    while (this.byHash.size >= this.maxEntries) {
      const oldest = this.byHash.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
    this.byHash.set(hash, { verdict, storedAt: this.now() });
    this.hashByKeyId.set(verdict.principal.keyId, hash);
  }

  dropKey(keyId: string): void {
    this.gen++;
    const hash = this.hashByKeyId.get(keyId);
    if (hash) this.delete(hash);
  }

  dropUser(userId: string): void {
    this.gen++;
    for (const [hash, entry] of this.byHash) if (entry.verdict.principal.userId === userId) this.delete(hash);
  }

  clear(): void {
    this.gen++;
    this.byHash.clear();
    this.hashByKeyId.clear();
  }

  /** Adds freshly recorded tokens to a cached key's budget use, so the cache does not lag. */
  addUsage(keyId: string, tokens: number): void {
    const hash = this.hashByKeyId.get(keyId);
    const entry = hash ? this.byHash.get(hash) : undefined;
    if (entry && entry.verdict.policy.tokenBudget > 0) {
      entry.verdict = { ...entry.verdict, budgetUsed: entry.verdict.budgetUsed + tokens };
    }
  }

  private delete(hash: string): void {
    const entry = this.byHash.get(hash);
    if (!entry) return;
    this.byHash.delete(hash);
    if (this.hashByKeyId.get(entry.verdict.principal.keyId) === hash) this.hashByKeyId.delete(entry.verdict.principal.keyId);
  }
}
