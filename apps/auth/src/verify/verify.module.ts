import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { KeyVerifierService } from './key-verifier.service';

@Module({ imports: [ApiKeysModule], providers: [KeyVerifierService], exports: [KeyVerifierService] })
export class VerifyModule {}
