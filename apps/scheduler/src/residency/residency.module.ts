import { Module } from '@nestjs/common';
import { ResidencyRepository } from './residency.repository';
import { ResidencyService } from './residency.service';

/** Publishing which workers hold which model, for edges. */
@Module({ providers: [ResidencyRepository, ResidencyService], exports: [ResidencyService] })
export class ResidencyModule {}
