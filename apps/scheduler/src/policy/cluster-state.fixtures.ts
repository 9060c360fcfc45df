/**
 * Builders of synthetic cluster states, for the policy's tests (and a benchmark's scenarios).
 */
import type { CatalogueModel } from '@switchyard/contracts';
import type { ClusterState, ModelDemand, ResidentSnapshot, WorkerSnapshot } from './cluster-state';

export const GB = 1e9;

export function model(name: string, sizeGb: number, extra: Partial<CatalogueModel> = {}): CatalogueModel {
  return {
    name,
    contextWindow: 8192,
    pool: 'shared',
    pinned: 0,
    sizeBytes: Math.round(sizeGb * GB),
    kind: 'chat',
    maxOutputTokens: 8192,
    ownedBy: 'test',
    ...extra,
  };
}

export function resident(name: string, sizeGb: number, extra: Partial<ResidentSnapshot> = {}): ResidentSnapshot {
  return { model: name, sizeBytes: Math.round(sizeGb * GB), busySlots: 0, pulling: true, loadedAtMs: 0, ...extra };
}

export function worker(id: string, memoryGb: number, extra: Partial<WorkerSnapshot> = {}): WorkerSnapshot {
  const w: WorkerSnapshot = {
    id,
    pool: 'shared',
    slots: 4,
    memoryTotalBytes: Math.round(memoryGb * GB),
    memoryUsedBytes: 0,
    connected: true,
    degraded: false,
    resident: [],
    evicting: [],
    loadSeconds: {},
    loadBlockedUntil: {},
    ...extra,
  };
  return w;
}

export function demand(modelName: string, extra: Partial<ModelDemand> = {}): ModelDemand {
  return { pool: 'shared', model: modelName, waiting: 0, active: 0, delayed: 0, oldestWaitMs: 0, arrivalRate: 0, idleMs: Infinity, ...extra };
}

export function state(parts: Partial<ClusterState> & Pick<ClusterState, 'catalogue'>): ClusterState {
  return { workers: [], demand: [], holdEvictions: false, ...parts };
}
