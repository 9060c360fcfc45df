import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { OllamaModule } from '../ollama/ollama.module';
import { LoadEvictMachine } from './load-evict.machine';
import { OllamaModels } from './ollama-models.adapter';
import { PsWatcher } from './ps.watcher';
import { ResidencyService } from './residency.service';
import { StaticModelsKeeper } from './static-models.keeper';

@Module({
  imports: [JobsModule, OllamaModule],
  providers: [OllamaModels, LoadEvictMachine, PsWatcher, StaticModelsKeeper, ResidencyService],
  exports: [ResidencyService],
})
export class ResidencyModule {}
