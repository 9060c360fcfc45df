import { readText } from './repo';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** One row of a catalogue table in docs/metrics.md. */
export interface CatalogueEntry {
  name: string;
  type: MetricType;
  labels: string[];
  meaning: string;
}

const ROW = /^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(counter|gauge|histogram|summary)\s*\|([^|]*)\|(.*)\|\s*$/;

/** The metric rows of docs/metrics.md (`| \`name\` | type | \`label\`, ... | meaning |`). */
export function readCatalogue(): CatalogueEntry[] {
  const entries: CatalogueEntry[] = [];
  for (const line of readText('docs', 'metrics.md').split('\n')) {
    const m = ROW.exec(line);
    if (!m) continue;
    const labels = [...m[3].matchAll(/`([^`]+)`/g)].map((l) => l[1]);
    entries.push({ name: m[1], type: m[2] as MetricType, labels, meaning: m[4].trim() });
  }
  return entries;
}
