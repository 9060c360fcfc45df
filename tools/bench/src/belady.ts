/**
 * Offline lower bound on model loads for a trace: Belady's MIN (evict the resident model whose next
 * use is farthest away) on a cache that holds `capacity` models, where `capacity` is the largest
 * number of the trace's models that can be resident at once on the whole cluster. No online policy
 * holding at most `capacity` models at a time can load fewer times (replicas only add loads).
 */
export function beladyLoads(sequence: string[], capacity: number): number {
  if (capacity <= 0) return sequence.length;
  const nextUse: number[] = new Array(sequence.length);
  const last = new Map<string, number>();
  for (let i = sequence.length - 1; i >= 0; i--) {
    nextUse[i] = last.get(sequence[i]) ?? Infinity;
    last.set(sequence[i], i);
  }
  const resident = new Map<string, number>(); // model -> index of its next use
  let loads = 0;
  for (let i = 0; i < sequence.length; i++) {
    const m = sequence[i];
    if (!resident.has(m)) {
      loads++;
      if (resident.size >= capacity) {
        let victim = '';
        let farthest = -1;
        for (const [r, next] of resident) {
          if (next > farthest) {
            farthest = next;
            victim = r;
          }
        }
        resident.delete(victim);
      }
    }
    resident.set(m, nextUse[i]);
  }
  return loads;
}

/**
 * The most models (smallest first) that fit the cluster at once: each GPU is filled greedily by
 * memory, and holds at most `maxPerGpu` models. Smallest-first maximises the count, so this is an
 * upper bound on what any placement keeps resident, which keeps `beladyLoads` a lower bound.
 */
export function maxResidentModels(modelBytes: number[], gpuBytes: number[], maxPerGpu: number): number {
  const sizes = [...modelBytes].sort((a, b) => a - b);
  const totalMem = gpuBytes.reduce((a, b) => a + b, 0);
  let used = 0;
  let count = 0;
  for (const s of sizes) {
    if (used + s > totalMem || count >= maxPerGpu * gpuBytes.length) break;
    used += s;
    count++;
  }
  return count;
}
