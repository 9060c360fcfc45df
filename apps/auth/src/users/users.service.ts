import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../common/errors';
import { newId } from '../common/ids';
import { AuthEventsService } from '../events/auth-events.service';
import { PoliciesRepository } from '../policies/policies.repository';
import { applyPolicyPatch } from '../policies/policy';
import type { PolicyPatch } from '../policies/policy.schema';
import { userPolicyView, type PolicyView } from '../policies/policy-view';
import { TransactionRunner } from '@switchyard/database';
import { UsersRepository, type User } from './users.repository';

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly policies: PoliciesRepository,
    private readonly tx: TransactionRunner,
    private readonly events: AuthEventsService,
  ) {}

  /** Creates a user, optionally with default policy overrides for its keys. */
  create(name: string, policy?: PolicyPatch): Promise<User> {
    return this.tx.run(async (q) => {
      const user = await this.users.insert({ id: newId('usr'), name }, q);
      if (policy && Object.keys(policy).length > 0) {
        const current = await this.policies.getUserOverrides(user.id, q);
        await this.policies.setUserOverrides(user.id, applyPolicyPatch(current, policy), q);
      }
      return user;
    });
  }

  /** The user with this name, created when absent. */
  ensure(name: string): Promise<{ user: User; created: boolean }> {
    return this.users.ensure({ id: newId('usr'), name });
  }

  async get(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundError('user', 'userId');
    return user;
  }

  list(filter: { name?: string; limit: number; offset: number }): Promise<User[]> {
    return this.users.list(filter);
  }

  async getPolicy(userId: string): Promise<PolicyView> {
    await this.get(userId);
    return userPolicyView(await this.policies.getUserOverrides(userId));
  }

  /** Changes the defaults of every key of the user; edges drop their cached verdicts. */
  async patchPolicy(userId: string, patch: PolicyPatch): Promise<PolicyView> {
    const view = await this.tx.run(async (q) => {
      if (!(await this.users.findById(userId, q))) throw new NotFoundError('user', 'userId');
      const next = applyPolicyPatch(await this.policies.getUserOverrides(userId, q), patch);
      await this.policies.setUserOverrides(userId, next, q);
      return userPolicyView(next);
    });
    await this.events.publish({ type: 'user.policy_changed', userId });
    return view;
  }
}
