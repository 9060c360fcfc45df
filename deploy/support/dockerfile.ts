/** A Dockerfile read as far as the tests need: stages and their instructions. */

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  /** `AS name`, or the stage's index as a string. */
  name: string;
  /** The FROM argument, build args substituted. */
  from: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** Build args declared before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

/** Joins continuation lines, drops comments and the parser directive, splits keyword from arguments. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && /^\s*#/.test(line)) continue;
    if (current !== '' && /^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += line.slice(0, -1) + ' ';
      continue;
    }
    current += line;
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(current);
    if (m) out.push({ keyword: m[1].toUpperCase(), args: m[2].trim() });
    current = '';
  }
  return out;
}

function substitute(value: string, args: Record<string, string>): string {
  return value.replace(/\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)/g, (whole, a: string | undefined, b: string | undefined) => args[a ?? b ?? ''] ?? whole);
}

export function parseDockerfile(text: string): Dockerfile {
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions(text)) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`cannot read FROM ${ins.args}`);
      stages.push({ name: m[2] ?? String(stages.length), from: substitute(m[1], globalArgs), instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (ins.keyword === 'ARG') {
        const [name, value] = ins.args.split('=', 2);
        globalArgs[name.trim()] = (value ?? '').trim();
      }
      continue;
    }
    stages[stages.length - 1].instructions.push(ins);
  }
  return { globalArgs, stages };
}

/** A stage and its ancestors (stages it is built FROM), nearest first. */
export function stageChain(file: Dockerfile, name: string): Stage[] {
  const chain: Stage[] = [];
  let stage = file.stages.find((s) => s.name === name);
  while (stage) {
    chain.push(stage);
    const parent: string = stage.from;
    stage = file.stages.find((s) => s.name === parent);
  }
  return chain;
}

/** The last value of an instruction in a stage or its ancestors (USER, CMD, HEALTHCHECK, ...). */
export function effective(file: Dockerfile, stage: string, keyword: string): string | undefined {
  for (const s of stageChain(file, stage)) {
    const found = s.instructions.filter((i) => i.keyword === keyword).pop();
    if (found) return found.args;
  }
  return undefined;
}

/** ENV variables in effect in a stage (`ENV A=1 B=2` and `ENV A 1` forms). */
export function effectiveEnv(file: Dockerfile, stage: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of stageChain(file, stage).reverse()) {
    for (const i of s.instructions.filter((x) => x.keyword === 'ENV')) {
      const pairs = [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)];
      if (pairs.length > 0) for (const p of pairs) env[p[1]] = p[2].replace(/^"|"$/g, '');
      else {
        const m = /^(\S+)\s+(.*)$/.exec(i.args);
        if (m) env[m[1]] = m[2];
      }
    }
  }
  return env;
}

/** The base image of a stage, following stages back to an image. */
export function baseImage(file: Dockerfile, stage: string): string {
  const chain = stageChain(file, stage);
  return chain[chain.length - 1].from;
}

/** The sources of a `COPY` (without `--from`), flags and JSON form handled. */
export function copySources(args: string): { from?: string; sources: string[]; dest: string } {
  const parts = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags = parts.filter((p) => p.startsWith('--'));
  const rest = parts.filter((p) => !p.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: rest.slice(0, -1), dest: rest[rest.length - 1] };
}

/** `.dockerignore` semantics: patterns in order, `!` re-includes, the last match wins; a match on a parent folder counts. */
export function dockerignoreMatcher(text: string): (file: string) => boolean {
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      let re = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i];
        if (c === '*' && pattern[i + 1] === '*') {
          if (pattern[i + 2] === '/') {
            re += '(?:.*/)?';
            i += 2;
          } else {
            re += '.*';
            i += 1;
          }
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (file: string) => {
    const parts = file.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const p of patterns) if (prefixes.some((prefix) => p.re.test(prefix))) ignored = !p.negate;
    return ignored;
  };
}
