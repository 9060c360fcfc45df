import { Inject, Injectable } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { MODEL_CATALOGUE, ModelCatalogue } from '../config/model-catalogue';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { OllamaHealth } from '../ollama/ollama-health.service';
import { LoadEvictMachine } from './load-evict.machine';

/** Gap between two attempts to load a static model that failed. */
const STATIC_RETRY_MS = 5_000;

type Machine = Pick<LoadEvictMachine, 'keep' | 'has' | 'load'>;

/**
 * Static mode: keeps the WORKER_MODELS loaded. They are marked kept (a kept model Ollama drops is
 * loaded again at once), and after each /api/ps poll any of them not managed is loaded, a failed
 * one again at most every STATIC_RETRY_MS, never while Ollama is down.
 */
@Injectable()
export class StaticModelsKeeper {
  private readonly models: string[] = [];
  private readonly attempts = new Map<string, number>();
  private stopped = false;
  private readonly log: Logger;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: Pick<WorkerConfig, 'WORKER_MODELS'>,
    @Inject(MODEL_CATALOGUE) private readonly catalogue: ModelCatalogue,
    @Inject(LoadEvictMachine) private readonly machine: Machine,
    @Inject(OllamaHealth) private readonly health: Pick<OllamaHealth, 'isDown'>,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: StaticModelsKeeper.name });
  }

  /** Resolves WORKER_MODELS against the catalogue (an unknown name is logged and ignored). */
  start(): void {
    for (const name of this.config.WORKER_MODELS) {
      const entry = this.catalogue.get(name);
      if (!entry) this.log.error({ model: name }, 'WORKER_MODELS names a model that is not in the catalogue: ignored');
      else if (!this.models.includes(entry.name)) {
        this.models.push(entry.name);
        this.machine.keep(entry.name);
      }
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** Loads the static models that are not managed now (each at most every STATIC_RETRY_MS). */
  ensure(): void {
    if (this.stopped || this.health.isDown) return;
    const now = Date.now();
    for (const name of this.models) {
      if (this.machine.has(name)) continue;
      const last = this.attempts.get(name) ?? -Infinity;
      if (now - last < STATIC_RETRY_MS) continue;
      this.attempts.set(name, now);
      void this.machine.load(name);
    }
  }
}
