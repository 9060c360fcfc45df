/**
 * A small PromQL tokenizer: enough to tell, in a dashboard's or an alert's expression, which
 * names are metrics (series selectors) and which are functions, aggregations, keywords, label
 * names, label values, numbers, durations or Grafana variables. Syntax itself is promtool's job.
 */

export type TokenKind = 'ident' | 'string' | 'number' | 'duration' | 'variable' | 'punct';

export interface Token {
  kind: TokenKind;
  text: string;
  /** Offset of the token in the expression. */
  pos: number;
}

/** A series selector: `name{label="value", ...}` (the matchers' label names only). */
export interface Selector {
  name: string;
  matchers: string[];
}

export interface ParsedExpr {
  selectors: Selector[];
  /** Label names of `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`, `group_left/right (...)`. */
  groupingLabels: string[];
  /** Grafana variables used (`$model`, `${pool}`, `[[x]]`), without `$`/braces. */
  variables: string[];
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_:]/;
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+/;
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;
const VARIABLE = /^(?:\$\{([A-Za-z0-9_]+)(?::[A-Za-z0-9_]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)(?::[A-Za-z0-9_]+)?\]\])/;

/** Operators that group (`sum by (x) (...)`) and keywords that are never metric names. */
export const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
]);
const GROUPING_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    const rest = expr.slice(i);
    const variable = VARIABLE.exec(rest);
    if (variable) {
      tokens.push({ kind: 'variable', text: variable[1] ?? variable[2] ?? variable[3], pos: i });
      i += variable[0].length;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      if (j >= expr.length) throw new Error(`unterminated string at ${i} in: ${expr}`);
      tokens.push({ kind: 'string', text: expr.slice(i + 1, j), pos: i });
      i = j + 1;
      continue;
    }
    const duration = DURATION.exec(rest);
    if (duration && !IDENT_PART.test(rest[duration[0].length] ?? '')) {
      tokens.push({ kind: 'duration', text: duration[0], pos: i });
      i += duration[0].length;
      continue;
    }
    const number = /[0-9.]/.test(c) ? NUMBER.exec(rest) : null;
    if (number) {
      tokens.push({ kind: 'number', text: number[0], pos: i });
      i += number[0].length;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < expr.length && IDENT_PART.test(expr[j])) j++;
      tokens.push({ kind: 'ident', text: expr.slice(i, j), pos: i });
      i = j;
      continue;
    }
    tokens.push({ kind: 'punct', text: c, pos: i });
    i++;
  }
  return tokens;
}

/** Index of the token closing the group opened at `open` (`(`/`{`/`[`). */
function closing(tokens: Token[], open: number): number {
  const pairs: Record<string, string> = { '(': ')', '{': '}', '[': ']' };
  const opener = tokens[open].text;
  const closer = pairs[opener];
  let depth = 0;
  for (let k = open; k < tokens.length; k++) {
    if (tokens[k].kind !== 'punct') continue;
    if (tokens[k].text === opener) depth++;
    else if (tokens[k].text === closer && --depth === 0) return k;
  }
  throw new Error(`unbalanced '${opener}' at ${tokens[open].pos}`);
}

/** Label names of a `{...}` matcher list between `open` and its closing brace. */
function matcherLabels(tokens: Token[], open: number, close: number): string[] {
  const labels: string[] = [];
  for (let k = open + 1; k < close; k++) {
    const t = tokens[k];
    // A label name is an identifier (or quoted name) followed by =, !=, =~ or !~.
    if ((t.kind === 'ident' || t.kind === 'string') && tokens[k + 1]?.kind === 'punct' && ['=', '!'].includes(tokens[k + 1].text)) labels.push(t.text);
  }
  return labels;
}

function labelList(tokens: Token[], open: number, close: number): string[] {
  return tokens.slice(open + 1, close).filter((t) => t.kind === 'ident').map((t) => t.text);
}

/** The selectors (metric names with their matchers), grouping labels and variables of an expression. */
export function parsePromQL(expr: string): ParsedExpr {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const variables: string[] = [];
  const isPunct = (k: number, text: string) => tokens[k]?.kind === 'punct' && tokens[k].text === text;

  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.kind === 'variable') {
      variables.push(t.text);
      continue;
    }
    if (t.kind === 'punct' && t.text === '[') {
      // Range or subquery: durations and Grafana interval variables only.
      const end = closing(tokens, k);
      for (const inner of tokens.slice(k + 1, end)) if (inner.kind === 'variable') variables.push(inner.text);
      k = end;
      continue;
    }
    if (t.kind === 'punct' && t.text === '{') {
      // A selector without a name ({__name__=~"..."}): not allowed in our dashboards.
      throw new Error(`selector without a metric name at ${t.pos} in: ${expr}`);
    }
    if (t.kind !== 'ident') continue;
    const word = t.text;
    if (GROUPING_KEYWORDS.has(word)) {
      if (isPunct(k + 1, '(')) {
        const end = closing(tokens, k + 1);
        groupingLabels.push(...labelList(tokens, k + 1, end));
        k = end;
      }
      continue;
    }
    if (KEYWORDS.has(word.toLowerCase())) continue;
    const next = tokens[k + 1];
    const isCall = isPunct(k + 1, '(') || (next?.kind === 'ident' && (next.text === 'by' || next.text === 'without'));
    if (isCall || AGGREGATIONS.has(word)) continue;
    // A metric name, with its matchers if any.
    if (isPunct(k + 1, '{')) {
      const end = closing(tokens, k + 1);
      const inner = tokens.slice(k + 2, end);
      for (const v of inner) if (v.kind === 'string') for (const m of v.text.matchAll(/\$\{?([A-Za-z0-9_]+)/g)) variables.push(m[1]);
      selectors.push({ name: word, matchers: matcherLabels(tokens, k + 1, end) });
      k = end;
    } else {
      selectors.push({ name: word, matchers: [] });
    }
  }
  return { selectors, groupingLabels, variables };
}

/** The metric names an expression selects. */
export function metricNames(expr: string): string[] {
  return [...new Set(parsePromQL(expr).selectors.map((s) => s.name))];
}

const SERIES_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/** `x_bucket` / `x_sum` / `x_count` → `x`; any other name unchanged. */
export function baseName(name: string): { base: string; suffix?: (typeof SERIES_SUFFIXES)[number] } {
  for (const suffix of SERIES_SUFFIXES) if (name.endsWith(suffix)) return { base: name.slice(0, -suffix.length), suffix };
  return { base: name };
}

/** Whether `name` is a known metric, or a histogram/summary series (`_bucket`, `_sum`, `_count`) of one. */
export function isKnownMetric(name: string, known: ReadonlySet<string>): boolean {
  if (known.has(name)) return true;
  const { base, suffix } = baseName(name);
  return suffix !== undefined && known.has(base);
}

/**
 * The PromQL inside a Grafana variable query: `label_values(expr, label)` → `expr`,
 * `query_result(expr)` → `expr`, `label_values(label)` / `label_names()` / `metrics(re)` → none.
 */
export function variableQueryExpr(query: string): string | undefined {
  const q = query.trim();
  const labelValues = /^label_values\(\s*(.*)\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*\)$/s.exec(q);
  if (labelValues) return labelValues[1];
  if (/^(label_values|label_names|metrics)\(/.test(q)) return undefined;
  const queryResult = /^query_result\(\s*(.*)\s*\)$/s.exec(q);
  if (queryResult) return queryResult[1];
  return q;
}
