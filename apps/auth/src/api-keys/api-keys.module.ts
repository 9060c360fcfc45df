import { Module } from '@nestjs/common';
import { PoliciesModule } from '../policies/policies.module';
import { UsersModule } from '../users/users.module';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';

@Module({ imports: [UsersModule, PoliciesModule], providers: [ApiKeysRepository, ApiKeysService], exports: [ApiKeysRepository, ApiKeysService] })
export class ApiKeysModule {}
