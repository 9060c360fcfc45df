import { Module } from '@nestjs/common';
import { BatchesModule } from '../batches/batches.module';
import { FilesModule } from '../files/files.module';
import { BatchRunner } from './batch-runner.service';
import { BulkDemandPublisher } from './bulk-demand.publisher';
import { LineQueue } from './line-queue';
import { OutputWriter } from './output-writer';
import { RelayCollector } from './relay-collector.service';

@Module({
  imports: [BatchesModule, FilesModule],
  providers: [LineQueue, RelayCollector, OutputWriter, BulkDemandPublisher, BatchRunner],
})
export class RunnerModule {}
