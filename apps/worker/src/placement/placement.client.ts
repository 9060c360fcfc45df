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
/** Pause before trying the next scheduler address after a refused or lost stream. */
const NEXT_ADDRESS_DELAY_MS = 100;

/**
 * The worker's side of `placement.v1.Attach`: registers, reports status every
 * WORKER_STATUS_INTERVAL_MS (and at once when residency changes), and obeys Load/Evict commands,
 * answering each with its result. Meanwhile the worker keeps serving what is resident.
 *
 * SCHEDULER_GRPC_URL lists the scheduler replicas; only the leader keeps a stream (a standby refuses
 * it at once). When a stream is refused or breaks, the next address is tried after a short pause;
 * once every address has failed in a row, the next try waits with backoff. SCHEDULER_GRPC_URL=none
 * disables it (static mode).
 */
@Injectable()
export class PlacementClient {
  private targets: string[] = [];
  private clients: placementV1.PlacementServiceClient[] = [];
  /** Index of the address the current (or next) stream uses. */
  private index = 0;
  private call: AttachCall | undefined;
  private connectedAt = 0;
  /** Whether the current stream brought a command (a leader is on the other end). */
  private commanded = false;
  /** Streams in a row that were refused or broke early, across addresses. */
  private failures = 0;
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
    if (!this.config.SCHEDULER_GRPC_URL) {
      this.log.info('SCHEDULER_GRPC_URL=none: no placement stream (static mode)');
      return;
    }
    this.targets = this.config.SCHEDULER_GRPC_URL.split(',');
    this.clients = this.targets.map(
      (target) =>
        new placementV1.PlacementServiceClient(target, credentials.createInsecure(), {
          'grpc.keepalive_time_ms': 10_000,
          'grpc.keepalive_timeout_ms': 5_000,
          'grpc.keepalive_permit_without_calls': 1,
          'grpc.initial_reconnect_backoff_ms': this.config.WORKER_RECONNECT_MIN_MS,
          'grpc.max_reconnect_backoff_ms': this.config.WORKER_RECONNECT_MAX_MS,
        }),
    );
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
    for (const client of this.clients) client.close();
    this.log.info({ reason }, 'unregistered from the scheduler');
  }

  private connect(): void {
    const client = this.clients[this.index];
    if (this.stopped || !client) return;
    const call = client.attach();
    this.call = call;
    this.connectedAt = Date.now();
    this.commanded = false;
    call.on('data', (cmd: placementV1.SchedulerCommand) => {
      this.attempt = 0;
      this.failures = 0;
      this.commanded = true;
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
          // This process's start: a new value tells the scheduler an earlier process of ours died.
          startedAtMs: Math.round(performance.timeOrigin),
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
    const from = this.targets[this.index];
    if (this.commanded || Date.now() - this.connectedAt > HEALTHY_STREAM_MS) {
      this.attempt = 0;
      this.failures = 0;
    } else {
      this.failures++;
    }
    // Next address at once; with backoff once a whole cycle of them failed (or with one address).
    this.index = (this.index + 1) % this.targets.length;
    const cycleFailed = this.failures > 0 && this.failures % this.targets.length === 0;
    const delay = cycleFailed || this.targets.length === 1 ? backoffDelay(this.attempt++, this.config.WORKER_RECONNECT_MIN_MS, this.config.WORKER_RECONNECT_MAX_MS) : NEXT_ADDRESS_DELAY_MS;
    const fields = { why, scheduler: from, next: this.targets[this.index], retryInMs: delay };
    // A standby's refusal is routine while a cycle goes on; say more once every address failed.
    if (this.failures > 0 && !cycleFailed) this.log.debug(fields, 'placement stream refused or lost: trying the next scheduler');
    else this.log.warn(fields, 'placement stream lost: still serving resident models, reconnecting');
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
