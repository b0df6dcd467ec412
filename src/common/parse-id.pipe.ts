import { Injectable, NotFoundException, PipeTransform } from '@nestjs/common';
import { MAX_ID } from './is-int-in-range.decorator';

/**
 * Ids are PostgreSQL `integer`s, from 1 to MAX_ID, as bodies' ids are (`@IsId()`). Anything else in
 * the URL cannot name a record, so it is a 404, never a 400 or a database error.
 */
@Injectable()
export class ParseIdPipe implements PipeTransform<string, number> {
  constructor(private readonly resource: string) {}

  transform(value: string): number {
    const id = /^[1-9][0-9]{0,9}$/.test(value) ? Number(value) : NaN;
    if (!(id <= MAX_ID)) {
      throw new NotFoundException(`No ${this.resource} with id ${JSON.stringify(value)}`);
    }
    return id;
  }
}
