import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Server, ServerDuplexStream, status as GrpcStatus } from '@grpc/grpc-js';
import { bindGrpcServer, shutdownGrpcServer } from '@switchyard/grpc';
import { placementV1 } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { SCHEDULER_CONFIG, type SchedulerConfig } from '../config/scheduler.config';
import { LeaderElection } from '../leadership/leader-election.service';
import { WorkerRegistry } from './worker-registry.service';
import type { WorkerSession } from './worker-session';

const SHUTDOWN_GRACE_MS = 3000;

/** What a standby answers an Attach with (status UNAVAILABLE): the worker tries its next address. */
export const STANDBY_REFUSAL = 'standby: not the leader';

type AttachCall = ServerDuplexStream<placementV1.WorkerMessage, placementV1.SchedulerCommand>;

/** A worker's Attach stream. */
class GrpcWorkerSession implements WorkerSession {
  private closed = false;

  constructor(private readonly call: AttachCall) {}

  get peer(): string {
    try {
      return this.call.getPeer();
    } catch {
      return 'unknown';
    }
  }

  get isClosed(): boolean {
    return this.closed || this.call.destroyed || this.call.writableEnded;
  }

  markClosed(): void {
    this.closed = true;
  }

  send(command: placementV1.SchedulerCommand): boolean {
    if (this.isClosed) return false;
    this.call.write(command);
    return true;
  }

  close(reason: string): void {
    if (this.isClosed) return;
    this.closed = true;
    this.call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: reason });
  }
}

/**
 * Serves `placement.v1.PlacementService.Attach` on SCHEDULER_GRPC_URL: one bidirectional stream per
 * worker. The worker registers first, then sends status every second and the result of each command;
 * the scheduler sends Load/Evict commands on the same stream. Messages go to the `WorkerRegistry`.
 * Only the leader accepts streams: a standby refuses each at once with UNAVAILABLE.
 */
@Injectable()
export class PlacementGateway implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger: Logger;
  private server: Server | undefined;
  private port: number | undefined;

  constructor(
    @Inject(SCHEDULER_CONFIG) private readonly config: SchedulerConfig,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
    private readonly registry: WorkerRegistry,
    private readonly leader: LeaderElection,
  ) {
    this.logger = rootLogger.child({ context: PlacementGateway.name });
  }

  /** `host:port` the server listens on (the real port when SCHEDULER_GRPC_URL asked for port 0). */
  get address(): string {
    if (this.port === undefined) throw new Error('placement gRPC server is not bound');
    return `${this.config.SCHEDULER_GRPC_URL.replace(/:\d+$/, '')}:${this.port}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const server = new Server({
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
      // Find half-open connections (a worker host that vanished) without waiting for TCP.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    });
    server.addService(placementV1.PlacementServiceService, { attach: (call: AttachCall) => this.attach(call) });
    this.port = await bindGrpcServer(server, this.config.SCHEDULER_GRPC_URL);
    this.server = server;
    this.logger.info({ address: this.address }, 'placement.v1 gRPC server listening');
  }

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // Close the streams without forgetting the workers in Redis: the next scheduler recovers them.
    this.registry.closeAll('scheduler shutting down');
    await shutdownGrpcServer(server, SHUTDOWN_GRACE_MS);
  }

  private attach(call: AttachCall): void {
    const session = new GrpcWorkerSession(call);
    if (!this.leader.isLeader) {
      this.logger.debug({ peer: session.peer }, 'Attach refused: standby');
      call.on('error', () => undefined);
      session.close(STANDBY_REFUSAL);
      return;
    }
    let workerId: string | undefined;
    const closed = () => {
      session.markClosed();
      if (workerId) this.registry.disconnected(workerId, session);
    };
    call.on('data', (msg: placementV1.WorkerMessage) => {
      const now = Date.now();
      try {
        const m = msg.msg;
        if (!m) return;
        if (workerId === undefined && m.$case !== 'register') {
          session.close('the first message on Attach must be register');
          return;
        }
        switch (m.$case) {
          case 'register':
            if (!this.leader.isLeader) {
              session.close(STANDBY_REFUSAL);
              return;
            }
            if (!m.register.workerId || !m.register.pool) {
              session.close('register needs worker_id and pool');
              return;
            }
            if (workerId !== undefined && workerId !== m.register.workerId) {
              session.close('a stream serves one worker');
              return;
            }
            workerId = m.register.workerId;
            this.registry.register(m.register, session, now);
            return;
          case 'status':
            this.registry.status(workerId as string, session, m.status, now);
            return;
          case 'loadResult':
            this.registry.loadResult(workerId as string, session, m.loadResult, now);
            return;
          case 'evictResult':
            this.registry.evictResult(workerId as string, session, m.evictResult, now);
            return;
          case 'unregister':
            this.registry.unregister(workerId as string, session, m.unregister.reason);
            session.markClosed();
            call.end();
            return;
          default: {
            const unknown: never = m;
            this.logger.warn({ msg: unknown }, 'unknown worker message');
          }
        }
      } catch (err) {
        this.logger.error({ err, workerId }, 'failed to handle a worker message');
      }
    });
    call.on('end', () => {
      closed();
      if (!call.writableEnded) call.end();
    });
    call.on('cancelled', closed);
    call.on('error', (err: Error) => {
      this.logger.debug({ err, workerId }, 'Attach stream error');
      closed();
    });
    call.on('close', closed);
  }
}
