import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { ApiKeysService } from '../api-keys/api-keys.service';
import type { PolicyPatch } from '../policies/policy.schema';
import type { PolicyView } from '../policies/policy-view';
import { AdminAuthGuard } from './admin-auth.guard';
import {
  createKeySchema,
  errorSchema,
  issuedKeySchema,
  keyDetailSchema,
  keyViewSchema,
  listKeysQuerySchema,
  listOf,
  openApi,
  policyPatchSchema,
  policyViewSchema,
  rotatedKeySchema,
  rotateKeySchema,
  updateKeySchema,
  type CreateKeyBody,
  type RotateKeyBody,
  type UpdateKeyBody,
} from './admin.schemas';
import { IdParamPipe } from './id-param.pipe';
import { keyDetail, keyView, type KeyView } from './views';
import { ZodValidationPipe } from './zod-validation.pipe';

const toDate = (iso: string | null | undefined): Date | null | undefined => (iso === undefined ? undefined : iso === null ? null : new Date(iso));

@ApiTags('keys')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong admin token', schema: openApi(errorSchema) })
@ApiResponse({ status: 400, description: 'Invalid input', schema: openApi(errorSchema) })
@ApiResponse({ status: 404, description: 'No such key or user', schema: openApi(errorSchema) })
@UseGuards(AdminAuthGuard)
@Controller('admin/v1/keys')
export class KeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an API key; the response holds the key, shown only this once' })
  @ApiBody({ schema: openApi(createKeySchema) })
  @ApiCreatedResponse({ schema: openApi(issuedKeySchema, 'output') })
  async create(@Body(new ZodValidationPipe(createKeySchema)) body: CreateKeyBody) {
    const issued = await this.keys.create({ userId: body.userId, name: body.name, expiresAt: toDate(body.expiresAt), policy: body.policy });
    return { key: issued.plaintext, ...keyDetail(issued.record, await this.keys.getPolicy(issued.record.id)) };
  }

  @Get()
  @ApiOperation({ summary: 'List keys (never the keys themselves)' })
  @ApiQuery({ name: 'userId', required: false })
  @ApiQuery({ name: 'includeRevoked', required: false, enum: ['true', 'false'] })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'offset', required: false })
  @ApiOkResponse({ schema: openApi(listOf(keyViewSchema)) })
  async list(@Query(new ZodValidationPipe(listKeysQuerySchema, 'query')) q: z.infer<typeof listKeysQuerySchema>): Promise<{ data: KeyView[] }> {
    const keys = await this.keys.list({ userId: q.userId, includeRevoked: q.includeRevoked !== 'false', limit: q.limit ?? 100, offset: q.offset ?? 0 });
    return { data: keys.map(keyView) };
  }

  @Get(':keyId')
  @ApiOperation({ summary: 'Get a key with its policy' })
  @ApiOkResponse({ schema: openApi(keyDetailSchema, 'output') })
  async get(@Param('keyId', new IdParamPipe('key')) keyId: string) {
    return keyDetail(await this.keys.get(keyId), await this.keys.getPolicy(keyId));
  }

  @Patch(':keyId')
  @ApiOperation({ summary: 'Rename a key or change its expiry' })
  @ApiBody({ schema: openApi(updateKeySchema) })
  @ApiOkResponse({ schema: openApi(keyViewSchema) })
  async update(@Param('keyId', new IdParamPipe('key')) keyId: string, @Body(new ZodValidationPipe(updateKeySchema)) body: UpdateKeyBody): Promise<KeyView> {
    return keyView(await this.keys.update(keyId, { name: body.name, expiresAt: toDate(body.expiresAt) }));
  }

  @Post(':keyId/revoke')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a key (idempotent); edges drop cached verdicts at once' })
  @ApiOkResponse({ schema: openApi(keyViewSchema) })
  async revoke(@Param('keyId', new IdParamPipe('key')) keyId: string): Promise<KeyView> {
    return keyView(await this.keys.revoke(keyId));
  }

  @Post(':keyId/rotate')
  @HttpCode(201)
  @ApiOperation({ summary: 'Replace a key by a new one with the same settings; the old one is revoked (or expires after graceSeconds)' })
  @ApiBody({ schema: openApi(rotateKeySchema), required: false })
  @ApiCreatedResponse({ schema: openApi(rotatedKeySchema, 'output') })
  @ApiResponse({ status: 409, description: 'The key is revoked or expired', schema: openApi(errorSchema) })
  async rotate(@Param('keyId', new IdParamPipe('key')) keyId: string, @Body(new ZodValidationPipe(rotateKeySchema.optional())) body: RotateKeyBody | undefined) {
    const rotated = await this.keys.rotate(keyId, { graceSeconds: body?.graceSeconds, expiresAt: toDate(body?.expiresAt) });
    return { key: rotated.plaintext, ...keyDetail(rotated.record, await this.keys.getPolicy(rotated.record.id)), previous: keyView(rotated.previous) };
  }

  @Get(':keyId/policy')
  @ApiOperation({ summary: "Get a key's policy overrides and effective policy" })
  @ApiOkResponse({ schema: openApi(policyViewSchema, 'output') })
  getPolicy(@Param('keyId', new IdParamPipe('key')) keyId: string): Promise<PolicyView> {
    return this.keys.getPolicy(keyId);
  }

  @Patch(':keyId/policy')
  @ApiOperation({ summary: "Change a key's policy overrides (absent fields stay, null inherits); edges drop cached verdicts" })
  @ApiBody({ schema: openApi(policyPatchSchema) })
  @ApiOkResponse({ schema: openApi(policyViewSchema, 'output') })
  patchPolicy(@Param('keyId', new IdParamPipe('key')) keyId: string, @Body(new ZodValidationPipe(policyPatchSchema)) body: PolicyPatch): Promise<PolicyView> {
    return this.keys.patchPolicy(keyId, body);
  }
}
