import { Module } from '@nestjs/common';
import { PipelineModule } from '../../pipeline/pipeline.module';
import { MessagesController } from './messages.controller';

/** Anthropic's Messages API: messages and count_tokens. */
@Module({
  imports: [PipelineModule],
  controllers: [MessagesController],
})
export class AnthropicModule {}
