// `npm test`: lint, type-check, the generated-code check, then every project's tests
// (unit *.spec.ts, integration *.int-spec.ts against the machine's Redis/PostgreSQL,
// end-to-end *.e2e-spec.ts) with Node's test runner; then the fault suite (*.fault-spec.ts: the
// platform broken on purpose, with time bounds) alone, so no other suite competes for the cores.
// Options: --only DIR (just the tests below DIR, no lint/typecheck), --skip-static, --faults (only the fault suite).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const onlyIdx = args.indexOf('--only');
const only = onlyIdx >= 0 ? args[onlyIdx + 1] : undefined;
const faultsOnly = args.includes('--faults');
const skipStatic = only !== undefined || faultsOnly || args.includes('--skip-static');
const env = { ...process.env, SWC_NODE_PROJECT: path.join(root, 'tsconfig.json'), NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };

function run(label, cmd, cmdArgs) {
  console.log(`\n==> ${label}: ${cmd} ${cmdArgs.join(' ')}`);
  const started = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit', env });
  console.log(`<== ${label}: ${r.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function findSpecs(dir, pattern, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) findSpecs(p, pattern, out);
    else if (pattern.test(name)) out.push(path.relative(root, p));
  }
  return out;
}

if (!skipStatic) {
  // The module-boundary lint rule reads Nx's project graph; compute it fresh first.
  run('project graph', process.execPath, [path.join(root, 'node_modules/nx/dist/bin/nx.js'), 'graph', '--file=tmp/project-graph.json']);
  run('lint', process.execPath, [path.join(root, 'node_modules/eslint/bin/eslint.js'), '.']);
  run('typecheck', process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
}

const dirs = only ? [only] : ['libs', 'apps', 'tools', 'deploy'];
const testArgs = ['--require', '@swc-node/register', '--test', '--test-reporter=spec', '--test-timeout=180000'];
if (!faultsOnly) {
  const specs = dirs.flatMap((d) => findSpecs(path.join(root, d), /\.(spec|int-spec|e2e-spec)\.ts$/)).sort();
  if (specs.length === 0) {
    console.error('no test files found');
    process.exit(1);
  }
  run('tests', process.execPath, [...testArgs, '--test-concurrency=2', ...specs]);
}
const faults = dirs.flatMap((d) => findSpecs(path.join(root, d), /\.fault-spec\.ts$/)).sort();
if (faults.length > 0) run('fault suite', process.execPath, [...testArgs, '--test-concurrency=1', ...faults]);
