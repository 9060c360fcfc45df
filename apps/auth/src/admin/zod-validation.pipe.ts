import { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { InvalidRequestError } from '../common/errors';

/** Validates a body or query with a zod schema; the first problem becomes a 400 naming the field. */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly where: 'body' | 'query' = 'body',
  ) {}

  transform(value: unknown): z.infer<S> {
    const input = value === undefined || value === null ? (this.where === 'query' ? {} : value) : value;
    const result = this.schema.safeParse(input);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    let param = issue.path.map(String).join('.') || null;
    if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
      param = [...issue.path.map(String), issue.keys[0]].join('.');
      throw new InvalidRequestError(`Unrecognized ${this.where} parameter '${param}'.`, param, 'unknown_parameter');
    }
    if (param === null && input === undefined) throw new InvalidRequestError(`A JSON ${this.where} is required.`, null, 'missing_body');
    throw new InvalidRequestError(param ? `Invalid '${param}': ${issue.message}` : `Invalid ${this.where}: ${issue.message}`, param);
  }
}
