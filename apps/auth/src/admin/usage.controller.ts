import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { usageQuerySchema, type UsageQuery } from '../usage/usage.schema';
import { UsageService, type UsageReport } from '../usage/usage.service';
import { AdminAuthGuard } from './admin-auth.guard';
import { errorSchema, openApi, usageReportSchema } from './admin.schemas';
import { ZodValidationPipe } from './zod-validation.pipe';

@ApiTags('usage')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong admin token', schema: openApi(errorSchema) })
@ApiResponse({ status: 400, description: 'Invalid input', schema: openApi(errorSchema) })
@UseGuards(AdminAuthGuard)
@Controller('admin/v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({ summary: 'Usage per key, model and UTC day, with totals' })
  @ApiQuery({ name: 'userId', required: false })
  @ApiQuery({ name: 'keyId', required: false })
  @ApiQuery({ name: 'from', required: false, description: 'YYYY-MM-DD, inclusive' })
  @ApiQuery({ name: 'to', required: false, description: 'YYYY-MM-DD, inclusive' })
  @ApiOkResponse({ schema: openApi(usageReportSchema) })
  report(@Query(new ZodValidationPipe(usageQuerySchema, 'query')) q: UsageQuery): Promise<UsageReport> {
    return this.usage.report(q);
  }
}
