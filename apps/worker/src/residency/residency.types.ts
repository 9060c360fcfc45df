import type { placementV1 } from '@switchyard/contracts';

export type ModelState = 'loading' | 'resident' | 'draining' | 'unloading';

export interface ManagedModel {
  readonly model: string;
  readonly numCtx: number;
  readonly embedding: boolean;
  state: ModelState;
  readonly sizeBytes: number;
  /** When it was last loaded (PsWatcher sets it again when it reloads the model after an outage). */
  loadedAtMs: number;
  /** Consecutive /api/ps polls that did not list it while it should be resident (counted by PsWatcher). */
  missingPolls: number;
}

export interface LoadOutcome {
  ok: boolean;
  /** Measured load time; for a model that was already loaded, the last measured time (or 0). */
  seconds: number;
  error: string;
}

export interface EvictOutcome {
  ok: boolean;
  error: string;
}

export interface ResidencySnapshot {
  resident: placementV1.ResidentModel[];
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  busySlots: number;
  degraded: boolean;
  loadTimes: placementV1.LoadTime[];
  loadingModel: string;
}
