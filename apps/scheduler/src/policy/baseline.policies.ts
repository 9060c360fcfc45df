/**
 * Baselines to compare `residency-aware` against, with the same interface (and the same one command
 * per worker at a time):
 *
 * - `none`: never sends a command. Workers keep whatever they registered with, the way a fleet
 *   behaves when nobody manages residency.
 * - `static`: fills each pool's GPUs once with catalogue models, in catalogue order (pinned models
 *   first, `pinned` copies of each, one of every other), each onto the worker with the most free
 *   memory, until nothing more fits; demand-blind, never evicts — an admin's hand-made partition.
 * - `lru`: on-demand loading as Ollama itself does it: a model with waiting jobs and no replica is
 *   loaded into free memory, or in place of the least recently used model that is not running a
 *   job; no minimum residency, no batching, no aging, no replicas, no pins.
 */
import type { ClusterState, Command, PlacementPolicy } from './cluster-state';
import { ClusterPlan, PlanModel, PlanWorker } from './cluster-plan';
import { DEFAULT_COST_MODEL } from './cost-model';

const PLAN_OPTIONS = { ...DEFAULT_COST_MODEL, memoryReserveFraction: 0.05 };

export class NonePolicy implements PlacementPolicy {
  readonly name = 'none';
  decide(): Command[] {
    return [];
  }
}

export class StaticPolicy implements PlacementPolicy {
  readonly name = 'static';

  decide(state: ClusterState, now: number): Command[] {
    const plan = new ClusterPlan(state, now, PLAN_OPTIONS);
    const pools = new Set(state.workers.map((w) => w.pool));
    const ordered = [...state.catalogue].sort((a, b) => Number(b.pinned > 0) - Number(a.pinned > 0));
    for (const pool of pools) {
      for (const m of ordered) {
        if (m.pool !== pool) continue;
        const wanted = Math.max(1, m.pinned);
        let have = plan.holders(pool, m.name);
        while (have < wanted) {
          const target = plan
            .poolWorkers(pool)
            .filter((w) => !w.models.has(m.name) && plan.fits(w, plan.facts.footprint(m.name, w.snap)))
            .sort((a, b) => b.capacity - b.used - (a.capacity - a.used))[0];
          if (!target) break;
          // Busy or disconnected workers keep their share of the partition for a later round.
          if (plan.available(target)) {
            plan.load(target, m.name, 'static');
          } else {
            const footprint = plan.facts.footprint(m.name, target.snap);
            target.models.set(m.name, reservation(m.name, footprint, now));
            target.used += footprint;
          }
          have++;
        }
      }
    }
    return plan.commands;
  }
}

function reservation(model: string, footprint: number, now: number): PlanModel {
  return { model, footprint, busySlots: 0, serving: false, idleResident: false, loading: true, evicting: false, loadedAtMs: now };
}

export class LruPolicy implements PlacementPolicy {
  readonly name = 'lru';

  decide(state: ClusterState, now: number): Command[] {
    const plan = new ClusterPlan(state, now, PLAN_OPTIONS);
    const demanded = state.demand
      .filter((d) => d.waiting > 0 && plan.facts.model(d.model))
      .sort((a, b) => b.oldestWaitMs - a.oldestWaitMs);
    for (const d of demanded) {
      if (plan.inProgress(d.pool, d.model) || plan.holders(d.pool, d.model) > 0) {
        const idle = plan.poolWorkers(d.pool).find((w) => w.models.get(d.model)?.idleResident && plan.available(w));
        if (idle && plan.servingReplicas(d.pool, d.model) === 0) plan.load(idle, d.model, 'demand');
        continue;
      }
      let best: { w: PlanWorker; victim?: PlanModel } | undefined;
      for (const w of plan.poolWorkers(d.pool)) {
        if (!plan.available(w) || plan.loadBlocked(w, d.model)) continue;
        const footprint = plan.facts.footprint(d.model, w.snap);
        if (!plan.couldFit(w, footprint)) continue;
        if (plan.fits(w, footprint)) {
          best = { w };
          break;
        }
        if (state.holdEvictions) continue;
        const victim = [...w.models.values()]
          .filter((v) => !v.loading && !v.evicting && v.busySlots === 0 && v.footprint + w.capacity - w.used >= footprint)
          .sort((a, b) => (plan.demand(w.snap.pool, b.model)?.idleMs ?? Infinity) - (plan.demand(w.snap.pool, a.model)?.idleMs ?? Infinity))[0];
        if (victim && !best) best = { w, victim };
      }
      if (!best) continue;
      if (best.victim) plan.evict(best.w, [best.victim], d.model, 'demand');
      else plan.load(best.w, d.model, 'demand');
    }
    return plan.commands;
  }
}
