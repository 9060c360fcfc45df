import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Server } from '@grpc/grpc-js';
import { bindGrpcServer, shutdownGrpcServer } from '@switchyard/grpc';
import { authV1 } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { AUTH_CONFIG, grpcBindAddress, type AuthConfig } from '../config/auth.config';
import { AuthGrpcHandlers } from './auth-grpc.handlers';

const SHUTDOWN_GRACE_MS = 5000;

/**
 * Hosts auth.v1 on a grpc-js server: bound once every module is ready, stopped (finishing
 * in-flight calls, then forcing) before the database closes.
 */
@Injectable()
export class GrpcServerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger: Logger;
  private server: Server | undefined;
  private port: number | undefined;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: AuthConfig,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
    private readonly handlers: AuthGrpcHandlers,
  ) {
    this.logger = rootLogger.child({ context: GrpcServerService.name });
  }

  /** `host:port` the server listens on (the real port when AUTH_GRPC_URL asked for port 0). */
  get address(): string {
    if (this.port === undefined) throw new Error('gRPC server is not bound');
    const host = grpcBindAddress(this.config).replace(/:\d+$/, '');
    return `${host}:${this.port}`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const server = new Server({
      'grpc.max_receive_message_length': 1024 * 1024,
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    server.addService(authV1.AuthServiceService, this.handlers.implementation());
    const bind = grpcBindAddress(this.config);
    this.port = await bindGrpcServer(server, bind);
    this.server = server;
    this.logger.info({ address: this.address }, 'auth.v1 gRPC server listening');
  }

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await shutdownGrpcServer(server, SHUTDOWN_GRACE_MS);
  }
}
