import { Module } from '@nestjs/common';
import { LeadershipModule } from '../leadership/leadership.module';
import { ResidencyRepository } from './residency.repository';
import { ResidencyService } from './residency.service';

/** Publishing which workers hold which model, for edges. */
@Module({ imports: [LeadershipModule], providers: [ResidencyRepository, ResidencyService], exports: [ResidencyService] })
export class ResidencyModule {}
