import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { VerifyModule } from '../verify/verify.module';
import { UsageStreamConsumer } from './usage-stream.consumer';
import { UsageRepository } from './usage.repository';
import { UsageService } from './usage.service';

@Module({ imports: [ApiKeysModule, VerifyModule], providers: [UsageRepository, UsageService, UsageStreamConsumer], exports: [UsageRepository, UsageService] })
export class UsageModule {}
