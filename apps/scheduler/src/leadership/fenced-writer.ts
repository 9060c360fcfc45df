import { Injectable } from '@nestjs/common';
import { LeaderElection } from './leader-election.service';
import { LeaseRepository } from './lease.repository';

/** A write refused because this replica does not hold the scheduler lease (any more). */
export class NotLeaderError extends Error {
  constructor(what: string) {
    super(`not the scheduler leader: ${what} refused`);
    this.name = 'NotLeaderError';
  }
}

/**
 * The leader's writes to shared state (residency, worker snapshots, load times), fenced by the
 * lease: each goes through only while the lease still holds this replica's value, so a replica
 * that lost the lease — paused past its TTL, cut off from Redis — cannot overwrite the new leader's.
 */
@Injectable()
export class FencedWriter {
  constructor(
    private readonly leader: LeaderElection,
    private readonly lease: LeaseRepository,
  ) {}

  async hset(key: string, fields: Record<string, string>): Promise<void> {
    if (!(await this.lease.hsetIfLeader(this.leader.leaseValue ?? '', key, fields))) throw new NotLeaderError(`HSET ${key}`);
  }

  async hdel(key: string, fields: string[]): Promise<void> {
    if (!(await this.lease.hdelIfLeader(this.leader.leaseValue ?? '', key, fields))) throw new NotLeaderError(`HDEL ${key}`);
  }
}
