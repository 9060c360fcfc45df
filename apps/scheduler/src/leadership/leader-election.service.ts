import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { fencingToken, LeaseRepository } from './lease.repository';

type LeaseConfig = Pick<SchedulerConfig, 'SCHEDULER_REPLICA_ID' | 'SCHEDULER_LEASE_TTL_MS' | 'SCHEDULER_LEASE_RENEW_MS' | 'SCHEDULER_LEASE_RETRY_MS'>;

export interface LeadershipEvents {
  /** This replica now holds the lease (its value `<replica id>:<fencing token>`). */
  'became-leader': [value: string];
  /** This replica no longer holds the lease (another took it, or it could not renew in time). */
  'lost-leadership': [reason: string];
  /** Redis answers again after a lost connection and this replica still leads: what Redis held may be gone. */
  'redis-back': [];
}
type Handler<E extends keyof LeadershipEvents> = (...args: LeadershipEvents[E]) => void | Promise<void>;

/**
 * Leader election among scheduler replicas over a Redis lease. A standby tries to take the lease every
 * SCHEDULER_LEASE_RETRY_MS; the leader renews it every SCHEDULER_LEASE_RENEW_MS and steps down as soon
 * as a renewal says another replica holds it. On shutdown the leader releases the lease, so a standby
 * takes over at its next try; a leader that dies without a word is replaced within about TTL + retry.
 *
 * When renewals fail (Redis unreachable), `isLeader` turns false once SCHEDULER_LEASE_TTL_MS has
 * passed since the last renewal sent that succeeded — the lease may be another's by then, so no
 * command goes out and no worker stream is accepted — but the replica keeps its lease value and its
 * workers' streams: if Redis comes back (even empty) and nobody else took the lease, the next renewal
 * resumes the term without a flap. After twice the TTL it steps down for good, so that in a
 * partition its workers move to the replica that did take over.
 *
 * Events run their handlers in order, one at a time (became-leader is awaited during boot, so a
 * lone replica leads before the app is up); the renewal loop never waits for them.
 */
@Injectable()
export class LeaderElection implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger: Logger;
  private readonly handlers: { [E in keyof LeadershipEvents]: Handler<E>[] } = { 'became-leader': [], 'lost-leadership': [], 'redis-back': [] };
  private value: string | undefined;
  /** The lease is surely ours until then (the last renewal sent that succeeded + TTL). */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private emitted: Promise<void> = Promise.resolve();
  private holdOffUntil = 0;
  private stopped = false;
  private lastError = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly lease: LeaseRepository,
    private readonly metrics: SchedulerMetrics,
    @Inject(SCHEDULER_CONFIG) private readonly config: LeaseConfig,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.logger = rootLogger.child({ context: LeaderElection.name, replicaId: config.SCHEDULER_REPLICA_ID });
    this.metrics.leader.set(0);
  }

  /** Leading, and the lease surely still ours (false at once after a pause past the TTL, before any timer runs). */
  get isLeader(): boolean {
    return this.value !== undefined && Date.now() < this.validUntil;
  }

  /** The lease value `<replica id>:<fencing token>` while leading; every fenced write carries it. */
  get leaseValue(): string | undefined {
    return this.value;
  }

  get fencingToken(): number | undefined {
    return this.value === undefined ? undefined : Number(fencingToken(this.value));
  }

  get replicaId(): string {
    return this.config.SCHEDULER_REPLICA_ID;
  }

  on<E extends keyof LeadershipEvents>(event: E, handler: Handler<E>): void {
    this.handlers[event].push(handler);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribe = this.lease.onReconnect(() => this.redisBack());
    this.logger.info({ ttlMs: this.config.SCHEDULER_LEASE_TTL_MS, renewMs: this.config.SCHEDULER_LEASE_RENEW_MS }, 'standby: trying to take the scheduler lease');
    await this.step();
    await this.emitted;
  }

  /** Stops trying before anything else shuts down: a replica on its way out must not take the lease. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
  }

  /** Once the control loop has stopped: gives the lease up so a standby takes over at once. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
    await this.emitted;
    await this.giveUp('shutting down');
  }

  /**
   * The process is about to die of an error nothing caught: stops leading at once (no command goes
   * out after this: `isLeader` is false) and gives the lease up, so a standby takes over at its next
   * try instead of when the lease expires. Waits for nothing in flight: that may be what failed.
   */
  async abandon(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.giveUp('crashing');
  }

  private async giveUp(why: string): Promise<void> {
    if (this.expiry) clearTimeout(this.expiry);
    const value = this.value;
    if (!value) return;
    this.value = undefined;
    this.metrics.leader.set(0);
    try {
      const released = await this.lease.release(value);
      this.logger.info({ released }, `${why}: released the scheduler lease`);
    } catch (err) {
      this.logger.warn({ err }, `${why}: could not release the scheduler lease (it expires by itself)`);
    }
  }

  /** Runs one acquisition or renewal now, unless one is running. */
  private step(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.timer) clearTimeout(this.timer);
    this.inFlight ??= (this.value ? this.renew(this.value) : this.acquire()).finally(() => {
      this.inFlight = undefined;
      this.schedule();
    });
    return this.inFlight;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = this.value ? this.config.SCHEDULER_LEASE_RENEW_MS : Math.max(this.config.SCHEDULER_LEASE_RETRY_MS, this.holdOffUntil - Date.now());
    this.timer = setTimeout(() => void this.step(), delay).unref();
  }

  private async acquire(): Promise<void> {
    if (Date.now() < this.holdOffUntil) return;
    const sentAt = Date.now();
    let value: string | undefined;
    try {
      value = await this.lease.acquire(this.config.SCHEDULER_REPLICA_ID, this.config.SCHEDULER_LEASE_TTL_MS);
    } catch (err) {
      this.redisError(err, 'could not try the scheduler lease');
      return;
    }
    if (!value) return;
    if (this.stopped) {
      await this.lease.release(value).catch(() => undefined);
      return;
    }
    this.value = value;
    this.armExpiry(value, sentAt);
    this.metrics.leader.set(1);
    this.logger.info({ fencingToken: this.fencingToken }, 'took the scheduler lease: leading');
    this.emit('became-leader', value);
  }

  private async renew(value: string): Promise<void> {
    const sentAt = Date.now();
    let result;
    try {
      result = await this.lease.renew(value, this.config.SCHEDULER_LEASE_TTL_MS);
    } catch (err) {
      this.redisError(err, 'could not renew the scheduler lease');
      return;
    }
    if (this.value !== value) {
      // We stepped down while the renewal was on its way (it took longer than the TTL): do not hold
      // a lease we no longer act on.
      if (result !== 'lost') await this.lease.release(value).catch(() => undefined);
      return;
    }
    if (result === 'lost') {
      this.stepDown(value, 'another replica holds the scheduler lease');
      return;
    }
    if (result === 'reacquired') this.logger.warn({ fencingToken: this.fencingToken }, 'the scheduler lease was gone (Redis restarted?); took it back');
    this.armExpiry(value, sentAt);
  }

  /** The lease is surely ours for a TTL after the renewal was sent; with no renewal for twice that, steps down. */
  private armExpiry(value: string, sentAt: number): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.validUntil = sentAt + this.config.SCHEDULER_LEASE_TTL_MS;
    const giveUpAfter = 2 * this.config.SCHEDULER_LEASE_TTL_MS;
    this.expiry = setTimeout(() => {
      if (this.value === value) this.stepDown(value, `could not renew the scheduler lease for ${giveUpAfter} ms`);
    }, Math.max(0, sentAt + giveUpAfter - Date.now())).unref();
  }

  private stepDown(value: string, reason: string): void {
    if (this.value !== value) return;
    this.value = undefined;
    if (this.expiry) clearTimeout(this.expiry);
    this.metrics.leader.set(0);
    this.logger.warn({ reason }, 'lost the scheduler lease: standing by');
    this.emit('lost-leadership', reason);
    this.schedule();
  }

  /** Redis answers again: the leader renews (or takes back an emptied lease) at once; a standby leaves it a renewal's time to. */
  private redisBack(): void {
    if (this.stopped) return;
    if (this.value) {
      this.logger.info('Redis is back: renewing the scheduler lease now');
      void this.step().then(() => {
        if (this.value) this.emit('redis-back');
      });
    } else {
      this.holdOffUntil = Date.now() + this.config.SCHEDULER_LEASE_RENEW_MS;
      this.schedule();
    }
  }

  private emit<E extends keyof LeadershipEvents>(event: E, ...args: LeadershipEvents[E]): void {
    this.emitted = this.emitted.then(async () => {
      for (const handler of this.handlers[event]) {
        try {
          await handler(...args);
        } catch (err) {
          this.logger.error({ err, event }, 'a leadership handler failed');
        }
      }
    });
  }

  private redisError(err: unknown, what: string): void {
    if (Date.now() - this.lastError > 10_000) this.logger.warn({ err }, what);
    this.lastError = Date.now();
  }
}
