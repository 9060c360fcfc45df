import { Module } from '@nestjs/common';
import { PoliciesRepository } from './policies.repository';

/** Stored policy overrides (per user and per key); merging lives in policy.ts. */
@Module({ providers: [PoliciesRepository], exports: [PoliciesRepository] })
export class PoliciesModule {}
