import { Inject, Injectable } from '@nestjs/common';
import { type ClientDuplexStream, credentials } from '@grpc/grpc-js';
import { placementV1 } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { ResidencyService } from '../residency/residency.service';
import { backoffDelay } from './backoff';

type AttachCall = ClientDuplexStream<placementV1.WorkerMessage, placementV1.SchedulerCommand>;
type Residency = Pick<ResidencyService, 'load' | 'evict' | 'snapshot' | 'onChange'>;

/** A stream that lived this long is considered healthy: the next reconnect starts from the shortest delay. */
const HEALTHY_STREAM_MS = 10_000;

/**
 * The worker's side of `placement.v1.Attach`: registers, reports status every
 * WORKER_STATUS_INTERVAL_MS (and at once when residency changes), and obeys Load/Evict commands,
 * answering each with its result. When the stream breaks it reconnects with backoff; meanwhile the
 * worker keeps serving what is resident. SCHEDULER_GRPC_URL=none disables it (static mode).
 */
@Injectable()
export class PlacementClient {
  private client: placementV1.PlacementServiceClient | undefined;
  private call: AttachCall | undefined;
  private connectedAt = 0;
  private attempt = 0;
  private statusTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private acceptingCommands = true;
  private readonly log: Logger;

  constructor(
    @Inject(WORKER_CONFIG)
    private readonly config: Pick<
      WorkerConfig,
      'SCHEDULER_GRPC_URL' | 'WORKER_ID' | 'WORKER_POOL' | 'OLLAMA_URL' | 'WORKER_SLOTS' | 'WORKER_STATUS_INTERVAL_MS' | 'WORKER_RECONNECT_MIN_MS' | 'WORKER_RECONNECT_MAX_MS'
    >,
    @Inject(ResidencyService) private readonly residency: Residency,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: PlacementClient.name });
  }

  get attached(): boolean {
    return this.call !== undefined;
  }

  start(): void {
    const target = this.config.SCHEDULER_GRPC_URL;
    if (!target) {
      this.log.info('SCHEDULER_GRPC_URL=none: no placement stream (static mode)');
      return;
    }
    this.client = new placementV1.PlacementServiceClient(target, credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': this.config.WORKER_RECONNECT_MIN_MS,
      'grpc.max_reconnect_backoff_ms': this.config.WORKER_RECONNECT_MAX_MS,
    });
    this.residency.onChange(() => this.sendStatus());
    this.connect();
    this.statusTimer = setInterval(() => this.sendStatus(), this.config.WORKER_STATUS_INTERVAL_MS);
    this.statusTimer.unref();
  }

  /** Shutdown, first step: Load/Evict commands are refused from now on. */
  stopAcceptingCommands(): void {
    this.acceptingCommands = false;
  }

  /** Shutdown, last step: a final status, `unregister`, then the stream and channel close. */
  async stop(reason: string): Promise<void> {
    this.stopped = true;
    this.acceptingCommands = false;
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const call = this.call;
    this.call = undefined;
    if (call) {
      const ended = new Promise<void>((resolve) => {
        call.once('status', () => resolve());
        call.once('error', () => resolve());
        setTimeout(resolve, 1_000).unref();
      });
      this.write(call, { msg: { $case: 'status', status: this.status() } });
      this.write(call, { msg: { $case: 'unregister', unregister: { workerId: this.config.WORKER_ID, reason } } });
      try {
        call.end();
      } catch {
        // already closed
      }
      await ended;
      call.cancel();
    }
    this.client?.close();
    this.log.info({ reason }, 'unregistered from the scheduler');
  }

  private connect(): void {
    if (this.stopped || !this.client) return;
    const call = this.client.attach();
    this.call = call;
    this.connectedAt = Date.now();
    call.on('data', (cmd: placementV1.SchedulerCommand) => {
      this.attempt = 0;
      this.onCommand(cmd);
    });
    call.on('error', (err: Error) => this.dropped(call, err.message));
    call.on('end', () => this.dropped(call, 'scheduler ended the stream'));
    const snap = this.residency.snapshot();
    this.write(call, {
      msg: {
        $case: 'register',
        register: {
          workerId: this.config.WORKER_ID,
          pool: this.config.WORKER_POOL,
          ollamaUrl: this.config.OLLAMA_URL,
          slots: this.config.WORKER_SLOTS,
          memoryTotalBytes: snap.memoryTotalBytes,
          resident: snap.resident,
          loadTimes: snap.loadTimes,
        },
      },
    });
    this.sendStatus();
  }

  private dropped(call: AttachCall, why: string): void {
    if (this.call !== call) return;
    this.call = undefined;
    call.cancel();
    if (this.stopped) return;
    if (Date.now() - this.connectedAt > HEALTHY_STREAM_MS) this.attempt = 0;
    const delay = backoffDelay(this.attempt++, this.config.WORKER_RECONNECT_MIN_MS, this.config.WORKER_RECONNECT_MAX_MS);
    this.log.warn({ why, retryInMs: delay }, 'placement stream lost: still serving resident models, reconnecting');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    this.reconnectTimer.unref();
  }

  private onCommand(cmd: placementV1.SchedulerCommand): void {
    const commandId = cmd.commandId;
    const c = cmd.cmd;
    switch (c?.$case) {
      case 'load': {
        const { model, numCtx } = c.load;
        this.log.info({ commandId, model, numCtx }, 'Load command');
        const result = this.acceptingCommands ? this.residency.load(model, numCtx) : Promise.resolve({ ok: false, seconds: 0, error: 'worker is shutting down' });
        void result.then((r) => {
          this.send({ msg: { $case: 'loadResult', loadResult: { commandId, model, ok: r.ok, loadSeconds: r.seconds, error: r.error } } });
          this.sendStatus();
        });
        return;
      }
      case 'evict': {
        const { model, reason } = c.evict;
        this.log.info({ commandId, model, reason }, 'Evict command');
        const result = this.acceptingCommands ? this.residency.evict(model) : Promise.resolve({ ok: false, error: 'worker is shutting down' });
        void result.then((r) => {
          this.send({ msg: { $case: 'evictResult', evictResult: { commandId, model, ok: r.ok, error: r.error } } });
          this.sendStatus();
        });
        return;
      }
      case undefined:
        this.log.warn({ commandId }, 'empty scheduler command ignored');
        return;
      default: {
        const unknown: never = c;
        this.log.warn({ commandId, cmd: unknown }, 'unknown scheduler command ignored');
      }
    }
  }

  private status(): placementV1.WorkerStatus {
    const snap = this.residency.snapshot();
    return {
      workerId: this.config.WORKER_ID,
      resident: snap.resident,
      memoryTotalBytes: snap.memoryTotalBytes,
      memoryUsedBytes: snap.memoryUsedBytes,
      busySlots: snap.busySlots,
      degraded: snap.degraded,
      loadTimes: snap.loadTimes,
      sentAtMs: Date.now(),
      loadingModel: snap.loadingModel,
    };
  }

  private sendStatus(): void {
    if (this.call && !this.stopped) this.write(this.call, { msg: { $case: 'status', status: this.status() } });
  }

  private send(message: placementV1.WorkerMessage): void {
    if (this.call) this.write(this.call, message);
    else this.log.warn({ type: message.msg?.$case }, 'scheduler away: command result not delivered (status will tell)');
  }

  private write(call: AttachCall, message: placementV1.WorkerMessage): void {
    try {
      call.write(message);
    } catch (err) {
      this.log.debug({ err: err instanceof Error ? err.message : String(err) }, 'placement write failed');
    }
  }
}
