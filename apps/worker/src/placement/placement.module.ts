import { Module } from '@nestjs/common';
import { ResidencyModule } from '../residency/residency.module';
import { PlacementClient } from './placement.client';

@Module({ imports: [ResidencyModule], providers: [PlacementClient], exports: [PlacementClient] })
export class PlacementModule {}
