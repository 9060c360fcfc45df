import { Module } from '@nestjs/common';
import { PipelineModule } from '../../../pipeline/pipeline.module';
import { BatchClient } from './batch.client';
import { FilesBatchesController } from './files-batches.controller';

/** `/v1/files*` and `/v1/batches*` (and under `/api/`): authenticated here, served by apps/batch. */
@Module({
  imports: [PipelineModule],
  controllers: [FilesBatchesController],
  providers: [BatchClient],
})
export class FilesBatchesModule {}
