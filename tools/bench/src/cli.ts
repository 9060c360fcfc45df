/**
 * `npm run bench -- [name] [flags]`: the one way to run a benchmark.
 * - (no name) or `placement`: the placement benchmark (placement/main.ts);
 * - `batch`: the performance endpoint under a big batch (batch-bench.ts);
 * - `overhead`: the edge's overhead per request (overhead/);
 * - `verify-key`: auth's VerifyKey latency, warm and cold cache (verify-key.bench.ts);
 * - `sim`: the Ollama simulator against its configured figures (sim-bench.ts);
 * - `merge`: one placement report over several placement runs' results (placement/merge.ts).
 */
async function run(): Promise<void> {
  const name = process.argv[2];
  const rest = process.argv.slice(3);
  switch (name) {
    case 'overhead': {
      const { runOverheadBench } = await import('./overhead/main');
      await runOverheadBench();
      return;
    }
    case 'batch': {
      const { runBatchBench } = await import('./batch-bench');
      await runBatchBench();
      return;
    }
    case 'verify-key': {
      const { runVerifyKeyBench } = await import('./verify-key.bench');
      await runVerifyKeyBench(rest);
      return;
    }
    case 'sim': {
      const { runSimBench } = await import('./sim-bench');
      await runSimBench(rest);
      return;
    }
    case 'merge': {
      const { runMerge } = await import('./placement/merge');
      runMerge(rest);
      return;
    }
    case 'placement': {
      const { runPlacementBench } = await import('./placement/main');
      await runPlacementBench(rest);
      return;
    }
    default: {
      const { runPlacementBench } = await import('./placement/main');
      await runPlacementBench(process.argv.slice(2));
    }
  }
}

void run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
