import { DynamicModule, Global, Module } from '@nestjs/common';
import { EDGE_CONFIG, type EdgeConfig } from './edge.config';

/** Makes the parsed configuration injectable everywhere as `EDGE_CONFIG`. */
@Global()
@Module({})
export class EdgeConfigModule {
  static forRoot(config: EdgeConfig): DynamicModule {
    return { module: EdgeConfigModule, providers: [{ provide: EDGE_CONFIG, useValue: config }], exports: [EDGE_CONFIG] };
  }
}
