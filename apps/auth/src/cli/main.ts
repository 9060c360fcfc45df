import { runCli } from './admin-cli';

// `npm run admin -- keys create --user alice --models llama3.1:8b --rpm 60`
void runCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}).then((code) => {
  process.exitCode = code;
});
