import { Module } from '@nestjs/common';
import { FilesModule } from '../files/files.module';
import { BatchesController } from './batches.controller';
import { BatchesRepository } from './batches.repository';
import { BatchesService } from './batches.service';
import { InputValidator } from './input-validator';
import { LinesRepository } from './lines.repository';

@Module({
  imports: [FilesModule],
  controllers: [BatchesController],
  providers: [BatchesRepository, LinesRepository, BatchesService, InputValidator],
  exports: [BatchesRepository, LinesRepository, BatchesService, InputValidator],
})
export class BatchesModule {}
