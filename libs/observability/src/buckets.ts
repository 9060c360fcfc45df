/** Histogram buckets (seconds) that fit LLM latencies: 10 ms to 10 min. */
export const LLM_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

/** Buckets (seconds) for fast internal operations: 0.1 ms to 1 s. */
export const FAST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
