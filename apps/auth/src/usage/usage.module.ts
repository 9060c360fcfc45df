import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { UsageRepository } from './usage.repository';
import { UsageService } from './usage.service';

@Module({ imports: [ApiKeysModule], providers: [UsageRepository, UsageService], exports: [UsageRepository, UsageService] })
export class UsageModule {}
