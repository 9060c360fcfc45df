import { Module } from '@nestjs/common';
import { AuthClient, GrpcAuthClient } from './auth.client';
import { AuthService } from './auth.service';

@Module({
  providers: [{ provide: AuthClient, useClass: GrpcAuthClient }, AuthService],
  exports: [AuthService],
})
export class AuthModule {}
