import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs/jobs.module';
import { OllamaModule } from '../ollama/ollama.module';
import { ResidencyService } from './residency.service';

@Module({ imports: [JobsModule, OllamaModule], providers: [ResidencyService], exports: [ResidencyService] })
export class ResidencyModule {}
