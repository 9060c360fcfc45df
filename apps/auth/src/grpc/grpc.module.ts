import { Module } from '@nestjs/common';
import { UsageModule } from '../usage/usage.module';
import { VerifyModule } from '../verify/verify.module';
import { AuthGrpcHandlers } from './auth-grpc.handlers';
import { GrpcServerService } from './grpc-server.service';

@Module({ imports: [VerifyModule, UsageModule], providers: [AuthGrpcHandlers, GrpcServerService], exports: [GrpcServerService] })
export class GrpcModule {}
