import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { DemoKeyService } from './demo-key.service';

@Module({ imports: [ApiKeysModule], providers: [DemoKeyService] })
export class DemoModule {}
