export * from './grpc-server';
