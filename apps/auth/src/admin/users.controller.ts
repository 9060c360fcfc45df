import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import type { PolicyPatch } from '../policies/policy.schema';
import type { PolicyView } from '../policies/policy-view';
import { UsersService } from '../users/users.service';
import { AdminAuthGuard } from './admin-auth.guard';
import { createUserSchema, errorSchema, listOf, listUsersQuerySchema, openApi, policyPatchSchema, policyViewSchema, userViewSchema, type CreateUserBody } from './admin.schemas';
import { IdParamPipe } from './id-param.pipe';
import { userView, type UserView } from './views';
import { ZodValidationPipe } from './zod-validation.pipe';

@ApiTags('users')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong admin token', schema: openApi(errorSchema) })
@ApiResponse({ status: 400, description: 'Invalid input', schema: openApi(errorSchema) })
@UseGuards(AdminAuthGuard)
@Controller('admin/v1/users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a user (optionally with default policy for its keys)' })
  @ApiBody({ schema: openApi(createUserSchema) })
  @ApiCreatedResponse({ schema: openApi(userViewSchema) })
  @ApiResponse({ status: 409, description: 'Name taken', schema: openApi(errorSchema) })
  async create(@Body(new ZodValidationPipe(createUserSchema)) body: CreateUserBody): Promise<UserView> {
    return userView(await this.users.create(body.name, body.policy));
  }

  @Get()
  @ApiOperation({ summary: 'List users' })
  @ApiQuery({ name: 'name', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'offset', required: false })
  @ApiOkResponse({ schema: openApi(listOf(userViewSchema)) })
  async list(@Query(new ZodValidationPipe(listUsersQuerySchema, 'query')) q: z.infer<typeof listUsersQuerySchema>): Promise<{ data: UserView[] }> {
    const users = await this.users.list({ name: q.name, limit: q.limit ?? 100, offset: q.offset ?? 0 });
    return { data: users.map(userView) };
  }

  @Get(':userId')
  @ApiOperation({ summary: 'Get a user' })
  @ApiOkResponse({ schema: openApi(userViewSchema) })
  async get(@Param('userId', new IdParamPipe('user')) userId: string): Promise<UserView> {
    return userView(await this.users.get(userId));
  }

  @Get(':userId/policy')
  @ApiOperation({ summary: "Get a user's default policy for its keys" })
  @ApiOkResponse({ schema: openApi(policyViewSchema, 'output') })
  getPolicy(@Param('userId', new IdParamPipe('user')) userId: string): Promise<PolicyView> {
    return this.users.getPolicy(userId);
  }

  @Patch(':userId/policy')
  @ApiOperation({ summary: "Change a user's default policy (absent fields stay, null clears); edges drop cached verdicts" })
  @ApiBody({ schema: openApi(policyPatchSchema) })
  @ApiOkResponse({ schema: openApi(policyViewSchema, 'output') })
  patchPolicy(@Param('userId', new IdParamPipe('user')) userId: string, @Body(new ZodValidationPipe(policyPatchSchema)) body: PolicyPatch): Promise<PolicyView> {
    return this.users.patchPolicy(userId, body);
  }
}
