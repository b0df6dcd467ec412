import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { encode } from './encode';
import type { Operation, OutputFormat } from './operation';

const FORMATS: OutputFormat[] = ['png', 'jpeg', 'webp', 'avif'];

export class ConvertParams {
  @IsIn(FORMATS)
  format: OutputFormat;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  quality?: number;
}

export const operation: Operation<ConvertParams> = {
  name: 'convert',
  description: `Re-encodes as format (${FORMATS.join('|')}); quality (1 to 100) applies to the lossy ones.`,
  params: ConvertParams,
  run(input, { format, quality }, context) {
    // @IsOptional lets a JSON null through; it means the same as leaving quality out.
    return encode(input, format, context, quality ?? undefined);
  },
};
