import { Module } from '@nestjs/common';
import { ModelCatalogueService } from './model-catalogue.service';
import { ResidencyRepository } from './residency.repository';

/** The catalogue and the residency the scheduler publishes, for whoever needs them. */
@Module({ providers: [ModelCatalogueService, ResidencyRepository], exports: [ModelCatalogueService, ResidencyRepository] })
export class ModelsCatalogueModule {}
