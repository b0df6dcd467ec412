import type { UpdateQueryBuilder } from 'typeorm';

/**
 * Folds "the source decoded" into a statement a completed job already makes (JobRepository.finish):
 * a job that completed read its source whole, or reused work done on the very same bytes.
 */
export function markSourceVerified<T extends UpdateQueryBuilder<object>>(query: T, imageId: number): T {
  return query
    .addCommonTableExpression(
      'UPDATE images SET verified_at = now() WHERE id = :verifiedSourceId AND verified_at IS NULL',
      'verified_source',
    )
    .setParameter('verifiedSourceId', imageId);
}
