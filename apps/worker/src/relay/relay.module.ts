import { Module } from '@nestjs/common';
import { RelayPublisher } from './relay.publisher';

@Module({ providers: [RelayPublisher], exports: [RelayPublisher] })
export class RelayModule {}
