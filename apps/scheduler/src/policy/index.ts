/** The placement policies and the snapshot they decide on (pure; no I/O). */
export * from './cluster-state';
export * from './cost-model';
export * from './residency-aware.policy';
export * from './baseline.policies';
export * from './policy.factory';
