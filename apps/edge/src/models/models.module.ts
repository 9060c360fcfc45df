import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { QueueModule } from '../queue/queue.module';
import { ModelsCatalogueModule } from './models-catalogue.module';
import { ModelsController } from './models.controller';
import { ModelsService } from './models.service';

@Module({
  imports: [AuthModule, ModelsCatalogueModule, QueueModule],
  controllers: [ModelsController],
  providers: [ModelsService],
})
export class ModelsModule {}
