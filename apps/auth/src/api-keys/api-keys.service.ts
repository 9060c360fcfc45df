import { Injectable } from '@nestjs/common';
import { AuthError, InvalidRequestError, NotFoundError } from '../common/errors';
import { newId } from '../common/ids';
import { AuthEventsService } from '../events/auth-events.service';
import { PoliciesRepository } from '../policies/policies.repository';
import { applyPolicyPatch, NO_OVERRIDES, overridesOf } from '../policies/policy';
import type { Policy, PolicyPatch } from '../policies/policy.schema';
import { keyPolicyView, type PolicyView } from '../policies/policy-view';
import type { Queryable } from '@switchyard/database';
import { TransactionRunner } from '@switchyard/database';
import { UsersRepository } from '../users/users.repository';
import { displayApiKey, generateApiKey, hashApiKey } from './api-key-secret';
import { ApiKeysRepository, type ApiKeyRecord } from './api-keys.repository';

/** A key just created or rotated: the only moment its plaintext exists outside the client. */
export interface IssuedKey {
  record: ApiKeyRecord;
  /** The key itself. Return it to the caller once; never store or log it. */
  plaintext: string;
}

export type KeyStatus = 'active' | 'revoked' | 'expired';

export function keyStatus(k: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, now = new Date()): KeyStatus {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && k.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly users: UsersRepository,
    private readonly policies: PoliciesRepository,
    private readonly tx: TransactionRunner,
    private readonly events: AuthEventsService,
  ) {}

  /** Issues a new key for a user, with optional expiry and policy overrides. */
  create(input: { userId: string; name?: string; expiresAt?: Date | null; policy?: PolicyPatch }): Promise<IssuedKey> {
    assertFuture(input.expiresAt);
    return this.tx.run(async (q) => {
      if (!(await this.users.findById(input.userId, q))) throw new NotFoundError('user', 'userId');
      const plaintext = generateApiKey();
      const record = await this.keys.insert(
        { id: newId('key'), userId: input.userId, name: input.name ?? '', hash: hashApiKey(plaintext), display: displayApiKey(plaintext), expiresAt: input.expiresAt ?? null },
        q,
      );
      if (input.policy && Object.keys(input.policy).length > 0) {
        await this.policies.setKeyOverrides(record.id, applyPolicyPatch({ ...NO_OVERRIDES }, input.policy), q);
      }
      return { record, plaintext };
    });
  }

  async get(id: string): Promise<ApiKeyRecord> {
    const key = await this.keys.findById(id);
    if (!key) throw new NotFoundError('key', 'keyId');
    return key;
  }

  list(filter: { userId?: string; includeRevoked: boolean; limit: number; offset: number }): Promise<ApiKeyRecord[]> {
    return this.keys.list(filter);
  }

  /** Revokes a key for good (idempotent); edges drop their cached verdicts at once. */
  async revoke(id: string): Promise<ApiKeyRecord> {
    const key = await this.keys.revoke(id);
    if (!key) throw new NotFoundError('key', 'keyId');
    await this.events.publish({ type: 'key.revoked', keyId: id, userId: key.userId });
    return key;
  }

  /**
   * Issues a replacement with the same user, name, expiry and policy overrides. The old key is
   * revoked now, or — with `graceSeconds` — expires after that grace period so clients can switch.
   */
  async rotate(id: string, opts: { graceSeconds?: number; expiresAt?: Date | null } = {}): Promise<IssuedKey & { previous: ApiKeyRecord }> {
    assertFuture(opts.expiresAt);
    const grace = opts.graceSeconds ?? 0;
    const result = await this.tx.run(async (q) => {
      const old = await this.keys.findById(id, q);
      if (!old) throw new NotFoundError('key', 'keyId');
      if (keyStatus(old) !== 'active') throw new AuthError(409, 'invalid_request_error', 'key_not_active', 'Only an active key can be rotated.', 'keyId');
      const plaintext = generateApiKey();
      const record = await this.keys.insert(
        {
          id: newId('key'),
          userId: old.userId,
          name: old.name,
          hash: hashApiKey(plaintext),
          display: displayApiKey(plaintext),
          expiresAt: opts.expiresAt !== undefined ? opts.expiresAt : old.expiresAt,
          rotatedFrom: old.id,
        },
        q,
      );
      await this.policies.setKeyOverrides(record.id, await this.policies.getKeyOverrides(old.id, q), q);
      const previous = grace > 0 ? await this.expireWithin(old, grace, q) : await this.keys.revoke(old.id, q);
      if (!previous) throw new NotFoundError('key', 'keyId');
      return { record, plaintext, previous };
    });
    await this.events.publish(
      grace > 0 ? { type: 'key.policy_changed', keyId: id, userId: result.previous.userId } : { type: 'key.revoked', keyId: id, userId: result.previous.userId },
    );
    return result;
  }

  /** Renames a key or changes its expiry (`null` = never expires). */
  async update(id: string, patch: { name?: string; expiresAt?: Date | null }): Promise<ApiKeyRecord> {
    assertFuture(patch.expiresAt);
    const key = await this.keys.update(id, patch);
    if (!key) throw new NotFoundError('key', 'keyId');
    if (patch.expiresAt !== undefined) await this.events.publish({ type: 'key.policy_changed', keyId: id, userId: key.userId });
    return key;
  }

  async getPolicy(id: string): Promise<PolicyView> {
    const key = await this.get(id);
    const [user, own] = await Promise.all([this.policies.getUserOverrides(key.userId), this.policies.getKeyOverrides(id)]);
    return keyPolicyView(user, own);
  }

  /** Changes a key's overrides; edges drop their cached verdicts at once. */
  async patchPolicy(id: string, patch: PolicyPatch): Promise<PolicyView> {
    const { view, userId } = await this.tx.run(async (q) => {
      const key = await this.keys.findById(id, q);
      if (!key) throw new NotFoundError('key', 'keyId');
      const next = applyPolicyPatch(await this.policies.getKeyOverrides(id, q), patch);
      await this.policies.setKeyOverrides(id, next, q);
      return { view: keyPolicyView(await this.policies.getUserOverrides(key.userId, q), next), userId: key.userId };
    });
    await this.events.publish({ type: 'key.policy_changed', keyId: id, userId });
    return view;
  }

  /**
   * Makes sure `plaintext` is an active key of user `userName` with exactly `policy` (creating
   * the user and the key when missing). Idempotent; used for the launcher's demo key.
   */
  async ensureKey(userName: string, plaintext: string, policy: Policy, name = 'demo'): Promise<{ record: ApiKeyRecord; created: boolean }> {
    const hash = hashApiKey(plaintext);
    const { record, created, changed } = await this.tx.run(async (q) => {
      const { user } = await this.users.ensure({ id: newId('usr'), name: userName }, q);
      const existing = await this.keys.findCredentialByHash(hash, undefined, q);
      if (existing && existing.userId !== user.id) {
        throw new AuthError(409, 'invalid_request_error', 'key_exists', 'This key belongs to another user.', null);
      }
      let keyId: string;
      let wasCreated = false;
      let wasChanged = false;
      if (!existing) {
        keyId = (await this.keys.insert({ id: newId('key'), userId: user.id, name, hash, display: displayApiKey(plaintext), expiresAt: null }, q)).id;
        wasCreated = true;
      } else {
        keyId = existing.id;
        if (keyStatus(existing) !== 'active') {
          await this.keys.reactivate(keyId, q);
          wasChanged = true;
        }
      }
      const wanted = overridesOf(policy);
      const current = await this.policies.getKeyOverrides(keyId, q);
      if (JSON.stringify(current) !== JSON.stringify(wanted)) {
        await this.policies.setKeyOverrides(keyId, wanted, q);
        wasChanged = wasChanged || !wasCreated;
      }
      const rec = await this.keys.findById(keyId, q);
      if (!rec) throw new Error('ensured key not found');
      return { record: rec, created: wasCreated, changed: wasChanged };
    });
    if (changed) await this.events.publish({ type: 'key.policy_changed', keyId: record.id, userId: record.userId });
    return { record, created };
  }

  private async expireWithin(key: ApiKeyRecord, seconds: number, q: Queryable): Promise<ApiKeyRecord | undefined> {
    const at = new Date(Date.now() + seconds * 1000);
    const expiresAt = key.expiresAt && key.expiresAt < at ? key.expiresAt : at;
    return this.keys.update(key.id, { expiresAt }, q);
  }
}

function assertFuture(at: Date | null | undefined): void {
  if (at && at.getTime() <= Date.now()) throw new InvalidRequestError('expiresAt must be in the future.', 'expiresAt');
}
