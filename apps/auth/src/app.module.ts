import { DynamicModule, Module } from '@nestjs/common';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { AuthConfig, AUTH_CONFIG } from './config/auth.config';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: AuthConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [ObservabilityModule.forRoot({ service: 'auth', version: VERSION, logger })],
      providers: [{ provide: AUTH_CONFIG, useValue: config }],
    };
  }
}
