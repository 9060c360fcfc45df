/**
 * A stand-in for apps/worker on the placement stream, for the scheduler's tests: it registers,
 * sends status regularly, and carries out Load/Evict commands on a pretend GPU.
 */
import { ClientDuplexStream, credentials } from '@grpc/grpc-js';
import { placementV1 } from '@switchyard/contracts';

export interface FakeWorkerOptions {
  id: string;
  pool?: string;
  slots?: number;
  memoryGb: number;
  /** Models resident when it registers: name -> GB. */
  resident?: Record<string, number>;
  /** Size a model takes once loaded, GB (default 6). */
  loadedSizeGb?: number;
  loadMs?: number;
  statusEveryMs?: number;
  /** When set, a stream that ends is followed by a new one to the next address after this long (a worker with several scheduler replicas). */
  reconnectMs?: number;
}

export class FakeWorker {
  readonly received: placementV1.SchedulerCommand[] = [];
  private readonly clients: InstanceType<typeof placementV1.PlacementServiceClient>[];
  private index = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private call: ClientDuplexStream<placementV1.WorkerMessage, placementV1.SchedulerCommand> | undefined;
  private readonly resident = new Map<string, placementV1.ResidentModel>();
  private loading = '';
  private timer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];
  /** Like a worker process's start time; `restart()` gives a new one. */
  startedAtMs = Date.now();
  ended = false;

  constructor(
    address: string | string[],
    private readonly opts: FakeWorkerOptions,
  ) {
    this.clients = [address].flat().map((a) => new placementV1.PlacementServiceClient(a, credentials.createInsecure()));
    for (const [model, gb] of Object.entries(opts.resident ?? {})) this.resident.set(model, residentModel(model, gb, Date.now() - 3_600_000));
  }

  connect(): void {
    const call = this.clients[this.index].attach();
    this.call = call;
    this.ended = false;
    call.on('data', (cmd: placementV1.SchedulerCommand) => this.onCommand(cmd));
    call.on('error', () => this.onEnd(call));
    call.on('end', () => this.onEnd(call));
    this.send({
      msg: {
        $case: 'register',
        register: {
          workerId: this.opts.id,
          pool: this.opts.pool ?? 'shared',
          ollamaUrl: 'http://127.0.0.1:11434',
          slots: this.opts.slots ?? 4,
          memoryTotalBytes: this.opts.memoryGb * 1e9,
          resident: [...this.resident.values()],
          loadTimes: [],
          startedAtMs: this.startedAtMs,
        },
      },
    });
    this.timer = setInterval(() => this.sendStatus(), this.opts.statusEveryMs ?? 200);
  }

  holds(model: string): boolean {
    return this.resident.has(model);
  }

  /** Resolves with the first command (already received or to come) that matches. */
  async waitFor(match: (c: placementV1.SchedulerCommand) => boolean, timeoutMs = 5000): Promise<placementV1.SchedulerCommand> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching command within ${timeoutMs} ms; received ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Closes the stream the way a worker shutting down without unregistering would. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.call?.end();
    for (const c of this.clients) c.close();
  }

  private onEnd(call: NonNullable<typeof this.call>): void {
    if (call !== this.call || this.ended) return;
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    if (this.opts.reconnectMs === undefined || this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.index = (this.index + 1) % this.clients.length;
      if (!this.closed) this.connect();
    }, this.opts.reconnectMs);
  }

  private onCommand(cmd: placementV1.SchedulerCommand): void {
    this.received.push(cmd);
    for (const w of this.waiters.splice(0)) w();
    const c = cmd.cmd;
    if (!c) return;
    if (c.$case === 'load') {
      this.loading = c.load.model;
      setTimeout(() => {
        this.loading = '';
        this.resident.set(c.load.model, residentModel(c.load.model, this.opts.loadedSizeGb ?? 6, Date.now()));
        this.send({ msg: { $case: 'loadResult', loadResult: { commandId: cmd.commandId, model: c.load.model, ok: true, loadSeconds: (this.opts.loadMs ?? 50) / 1000, error: '' } } });
        this.sendStatus();
      }, this.opts.loadMs ?? 50);
    } else {
      const held = this.resident.get(c.evict.model);
      if (held) held.pulling = false;
      setTimeout(() => {
        this.resident.delete(c.evict.model);
        this.send({ msg: { $case: 'evictResult', evictResult: { commandId: cmd.commandId, model: c.evict.model, ok: true, error: '' } } });
        this.sendStatus();
      }, 30);
    }
  }

  private sendStatus(): void {
    const resident = [...this.resident.values()];
    this.send({
      msg: {
        $case: 'status',
        status: {
          workerId: this.opts.id,
          resident,
          memoryTotalBytes: this.opts.memoryGb * 1e9,
          memoryUsedBytes: resident.reduce((sum, r) => sum + r.sizeBytes, 0),
          busySlots: 0,
          degraded: false,
          loadTimes: [],
          sentAtMs: Date.now(),
          loadingModel: this.loading,
        },
      },
    });
  }

  private send(msg: placementV1.WorkerMessage): void {
    if (this.call && !this.ended && !this.call.writableEnded) this.call.write(msg);
  }
}

function residentModel(model: string, gb: number, loadedAtMs: number): placementV1.ResidentModel {
  return { model, sizeBytes: gb * 1e9, numCtx: 1024, busySlots: 0, pulling: true, loadedAtMs };
}
