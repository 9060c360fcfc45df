import { randomBytes } from 'node:crypto';
import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { placementV1, poolModelField } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { MODEL_CATALOGUE } from '../config/catalogue';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { DemandService } from '../demand/demand.service';
import { StalledJobsReaper } from '../demand/stalled-jobs.reaper';
import { LeaderElection } from '../leadership/leader-election.service';
import { SchedulerMetrics } from '../metrics/scheduler.metrics';
import { RegistryEvent, WorkerRegistry } from '../placement/worker-registry.service';
import type { ClusterState, Command, PlacementModel, PlacementPolicy, WorkerSnapshot } from '../policy';
import { ResidencyService, type TailRound } from '../residency/residency.service';

export const PLACEMENT_POLICY = Symbol('PLACEMENT_POLICY');

/**
 * The control loop. Every SCHEDULER_TICK_MS, and at once when a worker registers, is lost, or
 * finishes a load or an eviction, it: drops workers that timed out, reads every queue (on ticks),
 * asks the placement policy for commands and sends them, runs the stalled-job check where a dead
 * worker left jobs, and publishes residency (all of it, with every worker snapshot, each
 * SCHEDULER_REPUBLISH_MS). Rounds never overlap; events during a round cause one more round right
 * after it.
 *
 * Only the leader runs it. Becoming leader is a restart: recover the saved registry, hold evictions
 * for the restart grace, run. Losing the lease stops the loop and closes every worker's stream, so
 * the workers move to the new leader.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private rerun = false;
  private rerunPoll = false;
  private kickPending = false;
  private stopped = false;
  private bootAtMs = Date.now();
  private recovered = 0;
  private lastPollError = 0;
  private lastRepublishMs = 0;
  private leading = false;
  private starting: Promise<void> | undefined;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly demand: DemandService,
    private readonly reaper: StalledJobsReaper,
    private readonly residency: ResidencyService,
    private readonly metrics: SchedulerMetrics,
    private readonly leader: LeaderElection,
    @Inject(PLACEMENT_POLICY) private readonly policy: PlacementPolicy,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @Inject(MODEL_CATALOGUE) private readonly catalogue: PlacementModel[],
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.logger = rootLogger.child({ context: SchedulerService.name });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.registry.on('change', (e) => this.onRegistryChange(e));
    this.leader.on('became-leader', () => this.lead());
    this.leader.on('lost-leadership', (reason) => this.standBy(reason));
    this.leader.on('redis-back', () => this.republishSoon());
    if (this.leader.isLeader) await this.lead();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.starting;
    await this.current;
  }

  /** Starts a term as leader the way a restart starts: the saved registry, evictions held, then the loop. */
  private lead(): Promise<void> {
    if (this.leading) return this.starting ?? Promise.resolve();
    this.leading = true;
    this.starting = (async () => {
      this.stopped = false;
      this.bootAtMs = Date.now();
      this.lastRepublishMs = 0;
      this.demand.reset(this.bootAtMs);
      this.residency.reset();
      try {
        this.recovered = await this.registry.recover(this.bootAtMs);
      } catch (err) {
        this.recovered = 0;
        this.logger.error({ err }, 'could not read the saved worker registry; starting empty');
      }
      this.logger.info({ policy: this.policy.name, tickMs: this.config.SCHEDULER_TICK_MS, recoveredWorkers: this.recovered, fencingToken: this.leader.fencingToken }, 'leading: scheduler loop starting');
      await this.round(true);
      this.schedule();
    })();
    return this.starting;
  }

  /** Ends a term: the loop stops, every worker's stream closes (they attach to the new leader), nothing is written. */
  private async standBy(reason: string): Promise<void> {
    await this.starting;
    if (!this.leading) return;
    this.leading = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
    const workers = this.registry.all().length;
    this.registry.clear(`standby: not the leader (${reason})`);
    await this.reaper.sync([]);
    this.residency.reset();
    this.demand.reset(Date.now());
    this.metrics.clearLeaderGauges();
    this.recovered = 0;
    this.logger.warn({ reason, closedWorkerStreams: workers }, 'standing by: scheduler loop stopped, worker streams closed');
  }

  /** Redis may have restarted empty: the next round rewrites everything. */
  private republishSoon(): void {
    this.lastRepublishMs = 0;
    this.kick();
  }

  /** Whether evictions are held: right after a restart, until the saved workers are back or the grace ends. */
  holdEvictions(now: number): boolean {
    return this.recovered > 0 && this.registry.awaitingReconnect() > 0 && now - this.bootAtMs < this.config.SCHEDULER_RESTART_GRACE_MS;
  }

  /** Runs one round now (tests, and events); resolves when it is done. */
  round(poll: boolean): Promise<void> {
    if (this.current) {
      this.rerun = true;
      this.rerunPoll ||= poll;
      return this.current;
    }
    this.current = this.run(poll).finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.round(true).finally(() => this.schedule());
    }, this.config.SCHEDULER_TICK_MS);
  }

  /** Coalesces a burst of registry events into one round. */
  private kick(): void {
    if (this.kickPending || this.stopped) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      if (!this.stopped) void this.round(false);
    });
  }

  private async run(poll: boolean): Promise<void> {
    let withPoll = poll;
    do {
      this.rerun = false;
      try {
        await this.once(withPoll);
      } catch (err) {
        this.logger.error({ err }, 'scheduling round failed');
      }
      withPoll = this.rerunPoll;
      this.rerunPoll = false;
    } while (this.rerun && !this.stopped);
  }

  private async once(poll: boolean): Promise<void> {
    if (!this.leading) return;
    this.registry.expire(Date.now());
    if (poll) {
      try {
        await this.demand.poll(Date.now());
      } catch (err) {
        if (Date.now() - this.lastPollError > 10_000) this.logger.warn({ err }, 'could not read the queues');
        this.lastPollError = Date.now();
      }
    }
    const now = Date.now();
    const workers = this.registry.snapshot(now);
    // Commands only while the lease is surely ours (not, say, right after this process was paused).
    if (this.demand.polled() && !this.stopped && this.leader.isLeader) this.decide(workers, now);
    const after = this.registry.snapshot(Date.now());
    if (poll) await this.reaper.sync(this.orphanedQueues(after));
    const republish = Date.now() - this.lastRepublishMs >= this.config.SCHEDULER_REPUBLISH_MS;
    await this.residency.publish(after, Date.now(), { all: republish, tail: this.tailRound() });
    if (republish) {
      await this.registry.republish();
      this.lastRepublishMs = Date.now();
    }
    this.updateGauges(after);
  }

  /**
   * For the edges' expected wait: the round a model on no GPU waits for when the policy's tail
   * rotation holds it back, and since when its oldest interactive request has waited. With none of
   * its requests waiting, only when the policy has no room for it at once (a first request then
   * starts its round); with room, a first request is loaded at once.
   */
  private tailRound(): TailRound | undefined {
    const policy = this.policy;
    if (!policy.tailRoundMs || !this.demand.polled()) return undefined;
    return (m) => {
      const roundMs = policy.tailRoundMs?.(m.pool, m.name);
      if (roundMs === undefined || roundMs <= 0) return undefined;
      const waitingSince = this.demand.stats(m.pool, m.name)?.oldestInteractiveCreatedMs;
      if (waitingSince !== undefined) return { roundMs, waitingSince };
      return policy.takesRoomAtOnce?.(m.pool, m.name) === false ? { roundMs } : undefined;
    };
  }

  private decide(workers: WorkerSnapshot[], now: number): void {
    const state: ClusterState = { workers, demand: this.demand.demand(now), catalogue: this.catalogue, holdEvictions: this.holdEvictions(now) };
    const started = process.hrtime.bigint();
    const commands = this.policy.decide(state, now);
    this.metrics.decisionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    for (const c of commands) this.dispatch(c, state, now);
  }

  private dispatch(c: Command, state: ClusterState, now: number): void {
    if (c.kind === 'evict' && state.holdEvictions) return;
    const commandId = `cmd_${randomBytes(9).toString('base64url')}`;
    const command: placementV1.SchedulerCommand =
      c.kind === 'load'
        ? { commandId, cmd: { $case: 'load', load: { model: c.model, numCtx: c.numCtx } } }
        : { commandId, cmd: { $case: 'evict', evict: { model: c.model, reason: c.forModel ? `${c.reason}: room for ${c.forModel}` : c.reason } } };
    const sent = this.registry.send(c.workerId, command, {
      commandId,
      kind: c.kind,
      model: c.model,
      reason: c.reason,
      forModel: c.kind === 'evict' ? c.forModel : undefined,
      sentAtMs: now,
    });
    if (!sent) {
      this.logger.debug({ command: c }, 'worker unreachable; command dropped');
      return;
    }
    const demand = state.demand.find((d) => d.model === c.model && d.pool === state.workers.find((w) => w.id === c.workerId)?.pool);
    const context = { commandId, workerId: c.workerId, model: c.model, reason: c.reason, waiting: demand?.waiting, oldestWaitMs: demand?.oldestWaitMs };
    if (c.kind === 'load') {
      this.metrics.loads.inc({ model: c.model, reason: c.reason });
      this.logger.info(context, 'load');
    } else {
      this.metrics.evictions.inc({ model: c.model, reason: c.reason });
      this.logger.info({ ...context, forModel: c.forModel }, 'evict');
    }
  }

  private onRegistryChange(e: RegistryEvent): void {
    if (e.kind === 'load-done') {
      if (!e.ok) this.metrics.loadFailures.inc({ model: e.model });
      else if (e.loadSeconds > 0) this.metrics.loadDuration.observe({ model: e.model }, e.loadSeconds);
      this.logger.info({ workerId: e.workerId, model: e.model, ok: e.ok, loadSeconds: e.loadSeconds, error: e.error }, 'load finished');
    } else if (e.kind === 'evict-done') {
      this.logger.info({ workerId: e.workerId, model: e.model, ok: e.ok, error: e.error }, 'eviction finished');
    }
    this.kick();
  }

  /** Queues with jobs running but no connected worker pulling them: their jobs may belong to a dead worker. */
  private orphanedQueues(workers: WorkerSnapshot[]): { pool: string; model: string }[] {
    const pulled = new Set<string>();
    for (const w of workers) {
      if (!w.connected) continue;
      for (const r of w.resident) if (r.pulling || r.busySlots > 0) pulled.add(poolModelField(w.pool, r.model));
    }
    return this.demand
      .demand(Date.now())
      .filter((d) => d.active > 0 && !pulled.has(poolModelField(d.pool, d.model)))
      .map((d) => ({ pool: d.pool, model: d.model }));
  }

  private updateGauges(workers: WorkerSnapshot[]): void {
    const counts = { connected: 0, degraded: 0, disconnected: 0 };
    for (const w of workers) {
      if (!w.connected) counts.disconnected++;
      else if (w.degraded) counts.degraded++;
      else counts.connected++;
    }
    for (const [state, n] of Object.entries(counts)) this.metrics.workers.set({ state }, n);
    this.metrics.modelResident.reset();
    for (const w of workers) {
      const held = new Set(w.resident.map((r) => r.model));
      for (const m of this.catalogue) this.metrics.modelResident.set({ worker: w.id, model: m.name }, held.has(m.name) ? 1 : 0);
      for (const m of held) if (!this.catalogue.some((c) => c.name === m)) this.metrics.modelResident.set({ worker: w.id, model: m }, 1);
    }
  }
}
