import { Module } from '@nestjs/common';
import { PoliciesModule } from '../policies/policies.module';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

@Module({ imports: [PoliciesModule], providers: [UsersRepository, UsersService], exports: [UsersRepository, UsersService] })
export class UsersModule {}
