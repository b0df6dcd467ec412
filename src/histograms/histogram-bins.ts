import { EntityManager } from 'typeorm';
import { Histogram } from './histogram.entity';

export type HistogramTarget = { imageId: number } | { s3Key: string };

/**
 * The bins of a histogram image of `userId` (null: no such image, or it has no histogram), for
 * the API's check of an aggregate's target and for the worker's read of it alike.
 */
export async function histogramBinsOf(manager: EntityManager, userId: number, target: HistogramTarget): Promise<number[] | null> {
  const query = manager
    .getRepository(Histogram)
    .createQueryBuilder('histogram')
    .innerJoin('Image', 'image', 'image.id = histogram.imageId')
    .where('image.userId = :userId', { userId });
  if ('imageId' in target) query.andWhere('image.id = :id', { id: target.imageId });
  else query.andWhere('image.s3Key = :key', { key: target.s3Key });
  return (await query.getOne())?.bins ?? null;
}
