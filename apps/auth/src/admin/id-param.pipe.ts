import { PipeTransform } from '@nestjs/common';
import { NotFoundError } from '../common/errors';

/** A path id that cannot be one of ours is a 404 at once (no database round trip). */
export class IdParamPipe implements PipeTransform<string, string> {
  constructor(private readonly what: 'user' | 'key') {}

  transform(value: string): string {
    const prefix = this.what === 'user' ? 'usr_' : 'key_';
    if (typeof value !== 'string' || !value.startsWith(prefix) || value.length > 64) {
      throw new NotFoundError(this.what, this.what === 'user' ? 'userId' : 'keyId');
    }
    return value;
  }
}
