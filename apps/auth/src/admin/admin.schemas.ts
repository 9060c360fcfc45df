import type { SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';
import { policyPatchSchema, policySchema } from '../policies/policy.schema';

/** A zod schema as an OpenAPI 3.0 schema object: the validation and the docs share one source. */
export function openApi(schema: z.ZodType, io: 'input' | 'output' = 'input'): SchemaObject {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as SchemaObject;
}

export const userNameSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'must be letters, digits, and . _ @ - (starting with a letter or digit)');

const expiresAtSchema = z.iso.datetime({ offset: true }).nullable().describe('ISO 8601 instant; null = never expires');
const pageLimit = z.string().regex(/^\d{1,4}$/, 'must be a number').transform(Number).pipe(z.number().int().min(1).max(1000)).optional();
const pageOffset = z.string().regex(/^\d{1,9}$/, 'must be a number').transform(Number).optional();

// ---- requests ----

export const createUserSchema = z.object({ name: userNameSchema, policy: policyPatchSchema.optional() }).strict();
export type CreateUserBody = z.infer<typeof createUserSchema>;

export const listUsersQuerySchema = z.object({ name: userNameSchema.optional(), limit: pageLimit, offset: pageOffset }).strict();

export const createKeySchema = z
  .object({
    userId: z.string().min(1).max(64),
    name: z.string().max(100).optional().describe('a label for the key'),
    expiresAt: expiresAtSchema.optional(),
    policy: policyPatchSchema.optional().describe('overrides of the user defaults for this key'),
  })
  .strict();
export type CreateKeyBody = z.infer<typeof createKeySchema>;

export const listKeysQuerySchema = z
  .object({ userId: z.string().min(1).max(64).optional(), includeRevoked: z.enum(['true', 'false']).optional(), limit: pageLimit, offset: pageOffset })
  .strict();

export const updateKeySchema = z
  .object({ name: z.string().max(100).optional(), expiresAt: expiresAtSchema.optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.expiresAt !== undefined, { message: 'give name or expiresAt' });
export type UpdateKeyBody = z.infer<typeof updateKeySchema>;

export const rotateKeySchema = z
  .object({
    graceSeconds: z.number().int().min(0).max(30 * 24 * 3600).optional().describe('keep the old key valid this long (default 0: revoke now)'),
    expiresAt: expiresAtSchema.optional().describe('expiry of the new key (default: the old key’s)'),
  })
  .strict();
export type RotateKeyBody = z.infer<typeof rotateKeySchema>;

export { policyPatchSchema };

// ---- responses (documentation) ----

const isoDate = z.string().describe('ISO 8601 instant');

export const userViewSchema = z.object({ id: z.string(), name: z.string(), createdAt: isoDate });
export const policyViewSchema = z.object({
  overrides: policySchema.partial().describe('stored overrides; null fields inherit'),
  effective: policySchema.describe('what applies once defaults are merged'),
});
export const keyViewSchema = z.object({
  id: z.string(),
  userId: z.string(),
  userName: z.string(),
  name: z.string(),
  display: z.string().describe('redacted form, e.g. sk-abc…wxyz'),
  status: z.enum(['active', 'revoked', 'expired']),
  createdAt: isoDate,
  expiresAt: isoDate.nullable(),
  revokedAt: isoDate.nullable(),
  rotatedFrom: z.string().nullable(),
});
export const keyDetailSchema = keyViewSchema.extend({ policy: policyViewSchema });
export const issuedKeySchema = keyDetailSchema.extend({ key: z.string().describe('the API key; shown only in this response') });
export const rotatedKeySchema = issuedKeySchema.extend({ previous: keyViewSchema });
export const usageReportSchema = z.object({
  rows: z.array(
    z.object({ day: z.string(), keyId: z.string(), userId: z.string(), model: z.string(), requests: z.number(), promptTokens: z.number(), completionTokens: z.number() }),
  ),
  totals: z.object({ requests: z.number(), promptTokens: z.number(), completionTokens: z.number() }),
});
export const errorSchema = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});
export const listOf = (item: z.ZodType) => z.object({ data: z.array(item) });
