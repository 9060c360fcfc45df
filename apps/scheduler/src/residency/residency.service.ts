import { Inject, Injectable } from '@nestjs/common';
import type { ResidencyEntry } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { MODEL_CATALOGUE } from '../config/catalogue';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { ModelFacts, type PlacementModel, RUNTIME_OVERHEAD, WorkerSnapshot } from '../policy';
import { ResidencyRepository } from './residency.repository';

/** Tail rotation's figures for a model held back (see `ResidencyEntry.tailRoundMs`), given by the scheduler's policy and queues; `waitingSince` while its requests wait. */
export type TailRound = (model: PlacementModel) => { roundMs: number; waitingSince?: number } | undefined;

/** Whole seconds: the entry is republished when it changes, not on every tick's jitter. */
const toSecond = (ms: number) => Math.round(ms / 1000) * 1000;

/**
 * The residency entries of every catalogue model, computed from the workers' snapshots; with
 * `tail`, a model on no GPU that tail rotation holds back says how long its round is (and, while its
 * requests wait, since when).
 */
export function computeResidency(
  catalogue: readonly PlacementModel[],
  workers: readonly WorkerSnapshot[],
  now: number,
  cost: { loadBandwidthBytesPerSec: number; loadOverheadSeconds: number },
  tail?: TailRound,
): ResidencyEntry[] {
  const facts = new ModelFacts(catalogue, workers, cost);
  return catalogue.map((m) => {
    const serving = workers.filter(
      (w) => !w.degraded && w.resident.some((r) => r.model === m.name && r.pulling) && !w.evicting.some((e) => e.model === m.name),
    );
    // Servable: some connected worker of its pool could hold it alone (the margins waived, as the
    // policy does), or its catalogue entry allows CPU offload (it then runs on the largest GPU).
    // Unknown when no worker is connected or one does not report its memory.
    const pool = workers
      .filter((w) => w.connected && w.pool === m.pool)
      .map((w) => {
        const need = facts.footprint(m.name, w);
        return { total: w.memoryTotalBytes, need, holds: need <= w.memoryTotalBytes * (1 + RUNTIME_OVERHEAD), slots: w.degraded ? 0 : w.slots };
      });
    const hosts = pool.filter((w) => w.holds);
    const servability =
      pool.length > 0 && pool.every((w) => w.total > 0)
        ? {
            servable: m.offload === true || hosts.length > 0,
            needBytes: Math.min(...pool.map((w) => w.need)),
            largestGpuBytes: Math.max(...pool.map((w) => w.total)),
            hostSlots: hosts.reduce((sum, w) => sum + w.slots, 0),
          }
        : {};
    const loading = workers
      .filter((w) => w.loading?.model === m.name)
      .map((w) => w.id)
      .sort();
    // On its way to a GPU (loading, or an eviction making room for it: its round came, or free
    // room did): no round left to wait for.
    const onItsWay = loading.length > 0 || workers.some((w) => w.evicting.some((e) => e.forModel === m.name));
    const round = serving.length === 0 && !onItsWay ? tail?.(m) : undefined;
    const rotation = round ? { tailRoundMs: toSecond(round.roundMs), ...(round.waitingSince !== undefined && { waitingSince: toSecond(round.waitingSince) }) } : {};
    return {
      model: m.name,
      workers: serving.map((w) => w.id).sort(),
      loading,
      loadSeconds: Math.round(facts.loadSeconds(m.name) * 100) / 100,
      slots: serving.reduce((sum, w) => sum + w.slots, 0),
      ...servability,
      ...rotation,
      updatedAt: now,
    };
  });
}

/**
 * Publishes residency for edges: on every change, only the models whose entry changed are written;
 * `all` rewrites every entry (the scheduler does so every SCHEDULER_REPUBLISH_MS, so a Redis that
 * restarted empty has them back within seconds). Workers the scheduler knows from its saved registry
 * count until they time out, so a scheduler restart does not make resident models disappear from
 * `GET /v1/models`.
 */
@Injectable()
export class ResidencyService {
  private readonly logger: Logger;
  private readonly published = new Map<string, string>();
  private cleaned = false;

  constructor(
    private readonly repository: ResidencyRepository,
    @Inject(MODEL_CATALOGUE) private readonly catalogue: PlacementModel[],
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.logger = rootLogger.child({ context: ResidencyService.name });
  }

  async publish(workers: WorkerSnapshot[], now: number, opts: { all?: boolean; tail?: TailRound } = {}): Promise<void> {
    const entries = computeResidency(
      this.catalogue,
      workers,
      now,
      {
        loadBandwidthBytesPerSec: this.config.SCHEDULER_LOAD_BANDWIDTH_GBPS * 1e9,
        loadOverheadSeconds: this.config.SCHEDULER_LOAD_OVERHEAD_S,
      },
      opts.tail,
    );
    const changed = opts.all ? entries : entries.filter((e) => this.published.get(e.model) !== signature(e));
    if (!this.cleaned) {
      await this.repository.keepOnly(this.catalogue.map((m) => m.name));
      this.cleaned = true;
    }
    if (changed.length === 0) return;
    await this.repository.write(changed);
    for (const e of changed) this.published.set(e.model, signature(e));
    this.logger.debug({ models: changed.map((e) => ({ model: e.model, workers: e.workers, loading: e.loading })) }, 'residency published');
  }

  /** Forgets what was published (a new term as leader starts from scratch). */
  reset(): void {
    this.published.clear();
    this.cleaned = false;
  }
}

function signature(e: ResidencyEntry): string {
  return JSON.stringify([e.workers, e.loading, e.loadSeconds, e.slots, e.servable, e.needBytes, e.largestGpuBytes, e.hostSlots, e.tailRoundMs, e.waitingSince]);
}
