/**
 * `npm run sim -- [flags]`: starts N simulated Ollama servers. When all listen it prints exactly one
 * line to stdout, `{"event":"listening","urls":[...]}`; every other log goes to stderr.
 */
import { optionsFromCli, USAGE } from './config';
import { startSimulator } from './server';

async function main(): Promise<void> {
  let options;
  try {
    options = optionsFromCli(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    process.stderr.write(USAGE);
    return;
  }
  delete options.help;
  const sim = await startSimulator(options);
  process.stdout.write(`${JSON.stringify({ event: 'listening', urls: sim.urls })}\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${JSON.stringify({ level: 30, msg: `${signal}: closing`, service: 'ollama-sim' })}\n`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    sim.close().then(
      () => process.exit(0),
      (err: Error) => {
        process.stderr.write(`${err.stack ?? err.message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
