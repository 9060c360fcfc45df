import { EventEmitter } from 'node:events';
import { Inject, Injectable } from '@nestjs/common';
import { poolModelField, poolSchema, type placementV1 } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import type { LoadReason, WorkerSnapshot } from '../policy';
import type { WorkerSession } from './worker-session';
import { SavedWorker, WorkerSnapshotRepository } from './worker-snapshot.repository';

type ResidentModel = placementV1.ResidentModel;

export interface PendingCommand {
  commandId: string;
  kind: 'load' | 'evict';
  model: string;
  reason: LoadReason;
  forModel?: string;
  sentAtMs: number;
}

export interface WorkerRecord {
  id: string;
  pool: string;
  ollamaUrl: string;
  slots: number;
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  degraded: boolean;
  resident: ResidentModel[];
  /** Measured load seconds per model. */
  loadTimes: Record<string, number>;
  /** The model the worker says it is loading ('' when none). */
  reportedLoading: string;
  lastSeenMs: number;
  /** The open stream; undefined while disconnected (or known only from the saved registry). */
  session?: WorkerSession;
  /** Known from the saved registry and not heard from since this scheduler started. */
  recovered: boolean;
  pending: Map<string, PendingCommand>;
  loadBlockedUntil: Record<string, number>;
  lastSavedMs: number;
  lastSavedJson: string;
  /** When the worker process registered on this stream started (0 = unknown). */
  startedAtMs: number;
}

export type RegistryEvent =
  | { kind: 'registered'; workerId: string }
  | { kind: 'disconnected'; workerId: string }
  | { kind: 'lost'; workerId: string; reason: string }
  /** A new process registered under a known id: the jobs the earlier one took before `startedAtMs` are orphans. */
  | { kind: 'restarted'; workerId: string; startedAtMs: number }
  | { kind: 'residency'; workerId: string }
  | { kind: 'load-done'; workerId: string; model: string; ok: boolean; loadSeconds: number; error?: string }
  | { kind: 'evict-done'; workerId: string; model: string; ok: boolean; error?: string };

/** Refresh the saved snapshot at least this often while a worker is connected. */
const SAVE_EVERY_MS = 5000;

/**
 * The scheduler's view of its workers: what each registered with and last reported, which
 * commands are outstanding, and which stream reaches it. Saves every worker to Redis so a restarted
 * scheduler starts from the last known cluster, and emits `RegistryEvent`s on every change that may
 * call for a decision or a residency update.
 */
@Injectable()
export class WorkerRegistry extends EventEmitter<{ change: [RegistryEvent] }> {
  private readonly workers = new Map<string, WorkerRecord>();
  /** The last load time measured per `pool|model` (what edges read for Retry-After). */
  private readonly lastLoadTimes = new Map<string, number>();
  private readonly logger: Logger;

  constructor(
    private readonly repository: WorkerSnapshotRepository,
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    super();
    this.logger = rootLogger.child({ context: WorkerRegistry.name });
  }

  /** Reads the saved registry (scheduler restart): those workers count until they reconnect or time out. */
  async recover(now: number): Promise<number> {
    const { workers, broken } = await this.repository.loadAll();
    if (broken.length > 0) {
      this.logger.warn({ broken }, 'dropping unreadable saved worker snapshots');
      await this.repository.remove(broken);
    }
    for (const saved of workers) {
      if (this.workers.has(saved.id)) continue;
      this.workers.set(saved.id, {
        ...saved,
        reportedLoading: '',
        // Give every saved worker a full timeout from our start to reconnect.
        lastSeenMs: now,
        recovered: true,
        pending: new Map(),
        loadBlockedUntil: {},
        lastSavedMs: now,
        lastSavedJson: '',
        startedAtMs: 0,
      });
    }
    if (workers.length > 0) this.logger.info({ workers: workers.map((w) => w.id) }, 'recovered the saved worker registry; waiting for workers to reconnect');
    return workers.length;
  }

  get(id: string): WorkerRecord | undefined {
    return this.workers.get(id);
  }

  all(): WorkerRecord[] {
    return [...this.workers.values()];
  }

  /** Workers known from the saved registry that have not reconnected yet. */
  awaitingReconnect(): number {
    return this.all().filter((w) => w.recovered).length;
  }

  register(msg: placementV1.Register, session: WorkerSession, now: number): void {
    const previous = this.workers.get(msg.workerId);
    if (previous?.session && previous.session !== session) {
      this.logger.warn({ workerId: msg.workerId, peer: previous.session.peer }, 'worker registered again; closing its previous stream');
      previous.session.close('replaced by a new registration');
    }
    const record: WorkerRecord = {
      id: msg.workerId,
      pool: msg.pool,
      ollamaUrl: msg.ollamaUrl,
      slots: msg.slots,
      memoryTotalBytes: msg.memoryTotalBytes,
      memoryUsedBytes: previous?.memoryUsedBytes ?? 0,
      degraded: false,
      resident: msg.resident,
      loadTimes: { ...(previous?.loadTimes ?? {}), ...Object.fromEntries(msg.loadTimes.map((l) => [l.model, l.seconds])) },
      reportedLoading: '',
      lastSeenMs: now,
      session,
      recovered: false,
      // Answers to commands sent on an earlier stream will not come: the worker reports afresh.
      pending: new Map(),
      loadBlockedUntil: previous?.loadBlockedUntil ?? {},
      lastSavedMs: 0,
      lastSavedJson: '',
      startedAtMs: Number(msg.startedAtMs) || 0,
    };
    this.workers.set(record.id, record);
    const restarted = previous !== undefined && previous.startedAtMs > 0 && record.startedAtMs > 0 && previous.startedAtMs !== record.startedAtMs;
    if (!(poolSchema.options as readonly string[]).includes(record.pool)) {
      this.logger.warn({ workerId: record.id, pool: record.pool, pools: poolSchema.options }, 'worker registered in an unknown pool: no queue will be placed on it');
    }
    this.logger.info(
      { workerId: record.id, pool: record.pool, slots: record.slots, memoryTotalBytes: record.memoryTotalBytes, resident: record.resident.map((r) => r.model) },
      previous ? 'worker re-registered' : 'worker registered',
    );
    this.save(record, now, true);
    if (restarted) {
      this.logger.warn({ workerId: record.id }, 'worker process restarted: the jobs its previous process was running are orphans');
      this.emit('change', { kind: 'restarted', workerId: record.id, startedAtMs: record.startedAtMs });
    }
    this.emit('change', { kind: 'registered', workerId: record.id });
  }

  status(workerId: string, session: WorkerSession, msg: placementV1.WorkerStatus, now: number): void {
    const w = this.current(workerId, session);
    if (!w) return;
    const before = residencyKey(w);
    w.resident = msg.resident;
    w.memoryTotalBytes = msg.memoryTotalBytes || w.memoryTotalBytes;
    w.memoryUsedBytes = msg.memoryUsedBytes;
    w.degraded = msg.degraded;
    w.reportedLoading = msg.loadingModel;
    for (const l of msg.loadTimes) if (l.seconds > 0) w.loadTimes[l.model] = l.seconds;
    w.lastSeenMs = now;
    const changed = residencyKey(w) !== before;
    this.save(w, now, changed);
    if (changed) this.emit('change', { kind: 'residency', workerId });
  }

  loadResult(workerId: string, session: WorkerSession, r: placementV1.LoadResult, now: number): void {
    const w = this.current(workerId, session);
    if (!w) return;
    w.lastSeenMs = now;
    const pending = this.takePending(w, r.commandId, 'load', r.model);
    const model = pending?.model ?? r.model;
    if (r.ok) {
      if (r.loadSeconds > 0) {
        w.loadTimes[model] = r.loadSeconds;
        this.lastLoadTimes.set(poolModelField(w.pool, model), r.loadSeconds);
        void this.repository.saveLoadTime(w.pool, model, r.loadSeconds).catch((err) => this.logger.warn({ err }, 'could not save a load time'));
      }
      const held = w.resident.find((m) => m.model === model);
      if (held) held.pulling = true;
      else w.resident = [...w.resident, { model, sizeBytes: 0, numCtx: 0, busySlots: 0, pulling: true, loadedAtMs: now }];
      delete w.loadBlockedUntil[model];
    } else {
      w.loadBlockedUntil[model] = now + this.config.SCHEDULER_LOAD_RETRY_MS;
      this.logger.warn({ workerId, model, error: r.error }, 'load failed');
    }
    if (w.reportedLoading === model) w.reportedLoading = '';
    this.save(w, now, true);
    this.emit('change', { kind: 'load-done', workerId, model, ok: r.ok, loadSeconds: r.loadSeconds, error: r.error || undefined });
  }

  evictResult(workerId: string, session: WorkerSession, r: placementV1.EvictResult, now: number): void {
    const w = this.current(workerId, session);
    if (!w) return;
    w.lastSeenMs = now;
    const pending = this.takePending(w, r.commandId, 'evict', r.model);
    const model = pending?.model ?? r.model;
    if (r.ok) {
      const gone = w.resident.find((m) => m.model === model);
      w.resident = w.resident.filter((m) => m.model !== model);
      if (gone) w.memoryUsedBytes = Math.max(0, w.memoryUsedBytes - gone.sizeBytes);
    } else {
      this.logger.warn({ workerId, model, error: r.error }, 'eviction failed');
    }
    this.save(w, now, true);
    this.emit('change', { kind: 'evict-done', workerId, model, ok: r.ok, error: r.error || undefined });
  }

  /** The stream closed: the worker stays known (its models count) until it times out or comes back. */
  disconnected(workerId: string, session: WorkerSession): void {
    const w = this.workers.get(workerId);
    if (!w || w.session !== session) return;
    w.session = undefined;
    w.pending.clear();
    this.logger.warn({ workerId }, 'worker stream closed');
    this.emit('change', { kind: 'disconnected', workerId });
  }

  /** A worker said goodbye (shutting down): forget it now. */
  unregister(workerId: string, session: WorkerSession, reason: string): void {
    const w = this.workers.get(workerId);
    if (!w || (w.session && w.session !== session)) return;
    this.remove(w, `unregistered: ${reason || 'no reason given'}`);
  }

  /**
   * Removes workers not heard from for SCHEDULER_WORKER_TIMEOUT_MS (closing a stream that is still
   * open but silent), and gives up on commands unanswered for SCHEDULER_LOAD_TIMEOUT_MS.
   */
  expire(now: number): void {
    for (const w of this.all()) {
      if (now - w.lastSeenMs > this.config.SCHEDULER_WORKER_TIMEOUT_MS) {
        w.session?.close('no status within SCHEDULER_WORKER_TIMEOUT_MS');
        this.remove(w, w.recovered ? 'did not reconnect after a scheduler restart' : 'timed out');
        continue;
      }
      for (const p of w.pending.values()) {
        if (now - p.sentAtMs <= this.config.SCHEDULER_LOAD_TIMEOUT_MS) continue;
        w.pending.delete(p.commandId);
        if (p.kind === 'load') w.loadBlockedUntil[p.model] = now + this.config.SCHEDULER_LOAD_RETRY_MS;
        this.logger.warn({ workerId: w.id, command: p }, 'command unanswered; giving up on it');
        this.emit('change', { kind: p.kind === 'load' ? 'load-done' : 'evict-done', workerId: w.id, model: p.model, ok: false, loadSeconds: 0, error: 'timeout' });
      }
    }
  }

  /** Sends a command on the worker's stream and records it as outstanding. */
  send(workerId: string, command: placementV1.SchedulerCommand, pending: PendingCommand): boolean {
    const w = this.workers.get(workerId);
    if (!w?.session) return false;
    if (!w.session.send(command)) return false;
    w.pending.set(pending.commandId, pending);
    return true;
  }

  /** The policy's view of every known worker. */
  snapshot(now: number): WorkerSnapshot[] {
    return this.all().map((w) => {
      const pending = [...w.pending.values()];
      const load = pending.find((p) => p.kind === 'load');
      const loading = load ? { model: load.model, sinceMs: load.sentAtMs } : w.reportedLoading ? { model: w.reportedLoading, sinceMs: now } : undefined;
      return {
        id: w.id,
        pool: w.pool,
        slots: w.slots,
        memoryTotalBytes: w.memoryTotalBytes,
        memoryUsedBytes: w.memoryUsedBytes,
        connected: w.session !== undefined,
        degraded: w.degraded,
        resident: w.resident.map((r) => ({ model: r.model, sizeBytes: r.sizeBytes, busySlots: r.busySlots, pulling: r.pulling, loadedAtMs: r.loadedAtMs })),
        loading,
        evicting: pending.filter((p) => p.kind === 'evict').map((p) => ({ model: p.model, forModel: p.forModel })),
        loadSeconds: { ...w.loadTimes },
        loadBlockedUntil: { ...w.loadBlockedUntil },
      };
    });
  }

  /** Closes every worker's stream without touching Redis (scheduler shutdown: the next instance recovers them). */
  closeAll(reason: string): void {
    for (const w of this.all()) {
      const session = w.session;
      w.session = undefined;
      session?.close(reason);
    }
  }

  /** Closes every stream and forgets every worker, Redis untouched (leadership lost: the new leader recovers them). */
  clear(reason: string): void {
    this.closeAll(reason);
    this.workers.clear();
    this.lastLoadTimes.clear();
  }

  /**
   * Rewrites every worker's snapshot and every load time, changed or not: Redis may have restarted
   * empty, and the edges' Retry-After and a successor's recovery read them.
   */
  async republish(): Promise<void> {
    const all = this.all();
    const loadTimes = new Map<string, number>();
    for (const w of all) for (const [model, seconds] of Object.entries(w.loadTimes)) if (seconds > 0) loadTimes.set(poolModelField(w.pool, model), seconds);
    for (const [unit, seconds] of this.lastLoadTimes) loadTimes.set(unit, seconds);
    await Promise.all([this.repository.save(...all.map((w) => this.saved(w, w.lastSeenMs))), this.repository.saveLoadTimes(loadTimes)]);
  }

  private remove(w: WorkerRecord, reason: string): void {
    this.workers.delete(w.id);
    this.logger.warn({ workerId: w.id, resident: w.resident.map((r) => r.model), reason }, 'worker removed');
    void this.repository.remove([w.id]).catch((err) => this.logger.warn({ err, workerId: w.id }, 'could not delete a saved worker'));
    this.emit('change', { kind: 'lost', workerId: w.id, reason });
  }

  private current(workerId: string, session: WorkerSession): WorkerRecord | undefined {
    const w = this.workers.get(workerId);
    return w && w.session === session ? w : undefined;
  }

  private takePending(w: WorkerRecord, commandId: string, kind: 'load' | 'evict', model: string): PendingCommand | undefined {
    let p = w.pending.get(commandId);
    if (!p) p = [...w.pending.values()].find((c) => c.kind === kind && c.model === model);
    if (p) w.pending.delete(p.commandId);
    return p;
  }

  private save(w: WorkerRecord, now: number, force: boolean): void {
    // Busy slots and memory move with every status; save those only every SAVE_EVERY_MS.
    const json = JSON.stringify([residencyKey(w), w.memoryTotalBytes, w.loadTimes]);
    if (!force && json === w.lastSavedJson && now - w.lastSavedMs < SAVE_EVERY_MS) return;
    w.lastSavedJson = json;
    w.lastSavedMs = now;
    void this.repository.save(this.saved(w, now)).catch((err) => this.logger.warn({ err, workerId: w.id }, 'could not save the worker snapshot'));
  }

  private saved(w: WorkerRecord, lastSeenMs: number): SavedWorker {
    return {
      id: w.id,
      pool: w.pool,
      ollamaUrl: w.ollamaUrl,
      slots: w.slots,
      memoryTotalBytes: w.memoryTotalBytes,
      memoryUsedBytes: w.memoryUsedBytes,
      degraded: w.degraded,
      resident: w.resident,
      loadTimes: w.loadTimes,
      lastSeenMs,
    };
  }
}

/** What changes residency: models held, whether pulled, and health. */
function residencyKey(w: WorkerRecord): string {
  return JSON.stringify([w.degraded, w.reportedLoading, w.resident.map((r) => [r.model, r.pulling, r.sizeBytes]).sort()]);
}
