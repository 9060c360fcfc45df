import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { UsageModule } from '../usage/usage.module';
import { UsersModule } from '../users/users.module';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminTokenService } from './admin-token.service';
import { DocsController } from './docs.controller';
import { HttpErrorFilter } from './http-error.filter';
import { KeysController } from './keys.controller';
import { UsageController } from './usage.controller';
import { UsersController } from './users.controller';

/** The admin REST API under /admin/v1, its token guard, its error shape and its docs. */
@Module({
  imports: [UsersModule, ApiKeysModule, UsageModule],
  controllers: [UsersController, KeysController, UsageController, DocsController],
  providers: [AdminTokenService, AdminAuthGuard, { provide: APP_FILTER, useClass: HttpErrorFilter }],
})
export class AdminModule {}
