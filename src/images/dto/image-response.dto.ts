import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Image } from '../image.entity';
import type { ImageRow } from '../image.repository';

export class ImageResponseDto {
  @ApiProperty() id: number;
  @ApiProperty({
    example: 'created',
    description: "'created', 'original stored', 'processed' or 'corrupt' (the worker could not decode the original: see corrupt_reason)",
  })
  status: string;
  @ApiProperty({ type: String, nullable: true }) s3_key: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'original', description: 'Image type name.' })
  image_type: string | null;
  @ApiProperty({ type: Number, nullable: true }) image_type_id: number | null;
  @ApiProperty() user_id: number;
  @ApiProperty({ type: Number, nullable: true, description: 'The image this one was derived from.' })
  original_id: number | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      "Width in pixels as displayed, after EXIF orientation. An original's comes from its file's header at upload and is corrected by the worker's decode.",
  })
  width: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Height in pixels as displayed, after EXIF orientation (see width).' })
  height: number | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'LEHV6nWB2yk8pyo0adR*.7kCMdnj',
    description:
      "A BlurHash (https://blurha.sh) of the image, to show while it loads (docs/placeholders.md). An output has it when it is written. An original's is null after upload (the API only checks its structure, decoding no pixel) until the worker's pass over stored files decodes it, within about VERIFY_DELAY seconds (30), with or without a job.",
  })
  blurhash: string | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: '#7a5c3e',
    description: 'The dominant colour, `#rrggbb`. Null until the worker has decoded the file, as blurhash.',
  })
  dominant_color: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'jpeg' }) format: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Size of the stored file.' }) bytes: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'Hex SHA-256 of the stored file.' }) sha256: string | null;
  @ApiProperty({ type: Number, nullable: true, description: 'The job whose step made this image.' }) job_id: number | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description: "Why the worker could not decode the original (status 'corrupt'); null otherwise.",
  })
  corrupt_reason: string | null;
  @ApiPropertyOptional({ type: [Number], description: 'Histogram images: the 256 bins.' }) histogram?: number[];
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;

  /** `image` must have its `imageType` (and, where it has one, `histogram`) loaded. */
  static from(image: Image): ImageResponseDto {
    return ImageResponseDto.fromRow({
      id: image.id,
      status: image.status,
      s3_key: image.s3Key,
      image_type: image.imageType?.typeName ?? null,
      image_type_id: image.imageTypeId,
      user_id: image.userId,
      original_id: image.originalId,
      width: image.width,
      height: image.height,
      blurhash: image.blurhash,
      dominant_color: image.dominantColor,
      format: image.format,
      bytes: image.bytes,
      sha256: image.sha256,
      job_id: image.jobId,
      corrupt_reason: image.corruptReason,
      histogram: image.histogram?.bins ?? null,
      created_at: image.createdAt,
      updated_at: image.updatedAt,
    });
  }

  /**
   * The answer's fields and their order, whichever way the image was read. A streamed list has
   * PostgreSQL write the same JSON (jsonListStatement in image.repository.ts): change both.
   */
  static fromRow(row: ImageRow): ImageResponseDto {
    return {
      id: row.id,
      status: row.status,
      s3_key: row.s3_key,
      image_type: row.image_type,
      image_type_id: row.image_type_id,
      user_id: row.user_id,
      original_id: row.original_id,
      width: row.width,
      height: row.height,
      blurhash: row.blurhash,
      dominant_color: row.dominant_color,
      format: row.format,
      bytes: row.bytes,
      sha256: row.sha256,
      job_id: row.job_id,
      corrupt_reason: row.corrupt_reason,
      ...(row.histogram ? { histogram: row.histogram } : {}),
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    };
  }
}
