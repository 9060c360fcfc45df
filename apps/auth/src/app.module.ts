import { DynamicModule, Module } from '@nestjs/common';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { AdminModule } from './admin/admin.module';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AuthConfigModule } from './config/auth-config.module';
import type { AuthConfig } from './config/auth.config';
import { DemoModule } from './demo/demo.module';
import { EventsModule } from './events/events.module';
import { GrpcModule } from './grpc/grpc.module';
import { AuthMetricsModule } from './metrics/auth-metrics.module';
import { PoliciesModule } from './policies/policies.module';
import { StorageModule } from './storage/storage.module';
import { UsageModule } from './usage/usage.module';
import { UsersModule } from './users/users.module';
import { VerifyModule } from './verify/verify.module';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: AuthConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: 'auth', version: VERSION, logger }),
        AuthConfigModule.forRoot(config),
        StorageModule,
        EventsModule,
        AuthMetricsModule,
        PoliciesModule,
        UsersModule,
        ApiKeysModule,
        UsageModule,
        VerifyModule,
        DemoModule,
        GrpcModule,
        AdminModule,
      ],
    };
  }
}
