import { DynamicModule, Module } from '@nestjs/common';
import { ObservabilityModule, type Logger } from '@switchyard/observability';
import { EdgeConfig, EDGE_CONFIG } from './config/edge.config';
import { VERSION } from './version';

@Module({})
export class AppModule {
  static forRoot(config: EdgeConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [ObservabilityModule.forRoot({ service: 'edge', version: VERSION, logger })],
      providers: [{ provide: EDGE_CONFIG, useValue: config }],
    };
  }
}
