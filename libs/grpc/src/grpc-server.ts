import { Server, ServerCredentials } from '@grpc/grpc-js';

/** Binds `server` to `host:port` (insecure, inside the cluster) and resolves the real port (for port 0). */
export function bindGrpcServer(server: Server, address: string): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
}

/** Lets in-flight calls finish for up to `graceMs`, then closes whatever is left. */
export function shutdownGrpcServer(server: Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
