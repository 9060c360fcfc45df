import { OllamaClient } from '../ollama/ollama.client';

export interface SimLoaded {
  model: string;
  state: string;
  num_ctx: number;
  busy_slots: number;
  waiting_for_slot: number;
}

export interface SimStatsSnapshot {
  loaded: SimLoaded[];
  models?: Record<string, { loads: number; requests: number; tokens_generated: number; unload_requests: number }>;
}

/** Reads the simulator's /sim/stats (what a benchmark reads) and its Ollama API through the worker's own client. */
export class SimProbe {
  readonly ollama: OllamaClient;

  constructor(readonly url: string) {
    this.ollama = new OllamaClient(url, { headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000 });
  }

  async stats(): Promise<SimStatsSnapshot> {
    const res = await fetch(`${this.url}/sim/stats`);
    return (await res.json()) as SimStatsSnapshot;
  }

  async busy(model: string): Promise<number> {
    const s = await this.stats();
    return s.loaded.filter((l) => l.model === model || l.model === `${model}:latest`).reduce((n, l) => n + l.busy_slots, 0);
  }

  async close(): Promise<void> {
    await this.ollama.close();
  }
}
