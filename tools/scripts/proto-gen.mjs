// Regenerates libs/contracts/src/gen from the .proto files with buf + ts-proto.
// `--check`: generate into a temporary folder and fail if it differs from what is committed.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const contracts = path.join(root, 'libs/contracts');
const check = process.argv.includes('--check');
const buf = path.join(root, 'node_modules/.bin/buf');

function generate(outDir) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sy-proto-'));
  const r = spawnSync(buf, ['generate', '--template', 'buf.gen.yaml', '-o', tmp], { cwd: contracts, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  rmSync(outDir, { recursive: true, force: true });
  cpSync(path.join(tmp, 'src/gen'), outDir, { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
}

function listFiles(dir, base = dir, out = new Map()) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) listFiles(p, base, out);
    else out.set(path.relative(base, p), readFileSync(p, 'utf8'));
  }
  return out;
}

const committed = path.join(contracts, 'src/gen');
if (!check) {
  generate(committed);
  console.log(`generated ${[...listFiles(committed).keys()].join(', ')}`);
} else {
  const fresh = mkdtempSync(path.join(os.tmpdir(), 'sy-proto-check-'));
  generate(path.join(fresh, 'gen'));
  const a = listFiles(committed);
  const b = listFiles(path.join(fresh, 'gen'));
  const diffs = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
  rmSync(fresh, { recursive: true, force: true });
  if (diffs.length) {
    console.error(`libs/contracts/src/gen is stale (run npm run proto:gen): ${diffs.join(', ')}`);
    process.exit(1);
  }
  console.log('generated gRPC code matches the .proto files');
}
