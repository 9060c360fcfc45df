import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { placementV1 } from '@switchyard/contracts';
import { waitFor } from './wait';

type Stream = ServerDuplexStream<placementV1.WorkerMessage, placementV1.SchedulerCommand>;

/** A tiny scheduler for tests: implements placement.v1.Attach, records what workers send, sends commands. */
export class FakeScheduler {
  readonly messages: Array<placementV1.WorkerMessage & { receivedAt: number }> = [];
  private readonly streams: Stream[] = [];
  private nextCommand = 1;

  private constructor(private readonly server: Server) {}

  private boundPort = 0;

  get port(): number {
    return this.boundPort;
  }

  static async start(port = 0): Promise<FakeScheduler> {
    const server = new Server();
    const scheduler = new FakeScheduler(server);
    const impl: placementV1.PlacementServiceServer = { attach: (call: Stream) => scheduler.accept(call) };
    server.addService(placementV1.PlacementServiceService, impl);
    scheduler.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return scheduler;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get openStreams(): number {
    return this.streams.length;
  }

  of<K extends NonNullable<placementV1.WorkerMessage['msg']>['$case']>(kind: K): Array<Extract<NonNullable<placementV1.WorkerMessage['msg']>, { $case: K }> & { receivedAt: number }> {
    return this.messages
      .filter((m) => m.msg?.$case === kind)
      .map((m) => ({ ...(m.msg as Extract<NonNullable<placementV1.WorkerMessage['msg']>, { $case: K }>), receivedAt: m.receivedAt }));
  }

  /** Sends a command on the newest stream; returns its command id. */
  send(cmd: NonNullable<placementV1.SchedulerCommand['cmd']>): string {
    const stream = this.streams[this.streams.length - 1];
    if (!stream) throw new Error('no worker attached');
    const commandId = `cmd-${this.nextCommand++}`;
    stream.write({ commandId, cmd });
    return commandId;
  }

  waitFor(predicate: (m: placementV1.WorkerMessage) => boolean, timeoutMs = 10_000, what = 'a worker message'): Promise<placementV1.WorkerMessage> {
    return waitFor(() => this.messages.find(predicate), timeoutMs, what);
  }

  /** Ends every stream and stops listening (the worker sees the scheduler go away). */
  async stop(): Promise<void> {
    for (const s of this.streams) s.destroy();
    this.server.forceShutdown();
  }

  private accept(call: Stream): void {
    this.streams.push(call);
    call.on('data', (m: placementV1.WorkerMessage) => this.messages.push({ ...m, receivedAt: Date.now() }));
    call.on('error', () => undefined);
    const drop = () => {
      const i = this.streams.indexOf(call);
      if (i >= 0) this.streams.splice(i, 1);
    };
    call.on('end', () => {
      drop();
      call.end();
    });
    call.on('close', drop);
    call.on('cancelled', drop);
  }
}
