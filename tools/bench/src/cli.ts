/**
 * `npm run bench -- [name] [flags]`: the one way to run a benchmark. `batch` runs the performance
 * endpoint under a big batch (batch-bench.ts); anything else is the placement benchmark (main.ts).
 */
async function run(): Promise<void> {
  if (process.argv[2] === 'overhead') {
    const { runOverheadBench } = await import('./overhead/main');
    await runOverheadBench();
    return;
  }
  if (process.argv[2] === 'batch') {
    const { runBatchBench } = await import('./batch-bench');
    await runBatchBench();
    return;
  }
  await import('./main');
}

void run().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
