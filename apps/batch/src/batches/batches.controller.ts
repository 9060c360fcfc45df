import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import type { BatchCaller } from '@switchyard/contracts';
import { Caller, InternalCallerGuard } from '../http/internal-caller.guard';
import { BatchesService } from './batches.service';

/** OpenAI's Batch API, also under `/api/`. */
@Controller()
@UseGuards(InternalCallerGuard)
export class BatchesController {
  constructor(private readonly batches: BatchesService) {}

  @Post(['v1/batches', 'api/batches'])
  @HttpCode(200)
  create(@Body() body: unknown, @Caller() caller: BatchCaller) {
    return this.batches.create(caller, body);
  }

  @Get(['v1/batches', 'api/batches'])
  list(@Query() query: unknown, @Caller() caller: BatchCaller) {
    return this.batches.list(caller.userId, query);
  }

  @Get(['v1/batches/:id', 'api/batches/:id'])
  get(@Param('id') id: string, @Caller() caller: BatchCaller) {
    return this.batches.view(caller.userId, id);
  }

  @Post(['v1/batches/:id/cancel', 'api/batches/:id/cancel'])
  @HttpCode(200)
  cancel(@Param('id') id: string, @Caller() caller: BatchCaller) {
    return this.batches.cancel(caller.userId, id);
  }
}
