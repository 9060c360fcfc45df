import { Inject, Injectable } from '@nestjs/common';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { WorkerMetrics } from '../metrics/worker.metrics';
import { OLLAMA_CLIENT, type OllamaApi } from './ollama.client';

export type OllamaFailure = 'unreachable' | 'server-error';
export type HealthListener = (up: boolean) => void;

/**
 * Whether Ollama answers. A refused or broken connection marks it down: listeners stop pulling,
 * and `/api/version` is probed until it answers again, when they resume. Any failure (5xx too)
 * makes the worker report itself degraded for WORKER_DEGRADED_HOLD_MS.
 */
@Injectable()
export class OllamaHealth {
  private down = false;
  private lastFailureAt = -Infinity;
  private probeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private checking = false;
  private readonly listeners: HealthListener[] = [];
  private readonly log: Logger;

  constructor(
    @Inject(OLLAMA_CLIENT) private readonly ollama: OllamaApi,
    @Inject(WORKER_CONFIG) private readonly config: Pick<WorkerConfig, 'WORKER_OLLAMA_PROBE_MS' | 'WORKER_DEGRADED_HOLD_MS'>,
    private readonly metrics: WorkerMetrics,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: OllamaHealth.name });
    this.metrics.ollamaUp.set(1);
  }

  get isDown(): boolean {
    return this.down;
  }

  get degraded(): boolean {
    return this.down || Date.now() - this.lastFailureAt < this.config.WORKER_DEGRADED_HOLD_MS;
  }

  /** `up` is called with false when Ollama goes down and with true when it answers again. */
  onChange(listener: HealthListener): void {
    this.listeners.push(listener);
  }

  reportFailure(kind: OllamaFailure, err: unknown): void {
    this.lastFailureAt = Date.now();
    this.metrics.degraded.set(1);
    if (this.down || this.stopped) return;
    if (kind === 'unreachable') this.markDown(err);
    else this.checkNow();
  }

  /** Called when Ollama answered; ends a down period early. */
  reportSuccess(): void {
    if (!this.degraded) this.metrics.degraded.set(0);
    if (this.down) this.markUp();
  }

  /** Checks Ollama now (readiness). */
  async check(): Promise<void> {
    await this.ollama.version();
  }

  stop(): void {
    this.stopped = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  /** After a 5xx: is Ollama still there at all? (A server shutting down answers 5xx, then refuses.) */
  private checkNow(): void {
    if (this.checking) return;
    this.checking = true;
    this.ollama
      .version()
      .then(
        () => undefined,
        (err: unknown) => this.markDown(err),
      )
      .finally(() => (this.checking = false));
  }

  private markDown(err: unknown): void {
    if (this.down || this.stopped) return;
    this.down = true;
    this.metrics.ollamaUp.set(0);
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'Ollama is unreachable: pulling stops until it answers');
    this.emit(false);
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.stopped || this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.ollama.version().then(
        () => this.markUp(),
        () => {
          this.lastFailureAt = Date.now();
          if (this.down) this.scheduleProbe();
        },
      );
    }, this.config.WORKER_OLLAMA_PROBE_MS);
    this.probeTimer.unref();
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    this.metrics.ollamaUp.set(1);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.log.info('Ollama answers again: pulling resumes');
    this.emit(true);
  }

  private emit(up: boolean): void {
    for (const listener of this.listeners) {
      try {
        listener(up);
      } catch (err) {
        this.log.error({ err }, 'health listener failed');
      }
    }
  }
}
