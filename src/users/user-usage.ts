import type { EntityManager } from 'typeorm';

/**
 * Folds the rows of user_usage_deltas into the counter caches' base in users, in one transaction
 * (fold_user_usage_deltas, migrations/1796700000002-UsageDeltas.ts), so that a reader, who sums the
 * base and the deltas in one statement, sees the same numbers before and after; answers how many
 * delta rows went. It keeps the deltas a reader or a storage check sums to the few written since
 * the last pass. Safe in several processes at once: a delta row is deleted by one of them only.
 */
export async function foldUsageDeltas(manager: EntityManager): Promise<number> {
  const [{ folded }] = (await manager.query('SELECT fold_user_usage_deltas() AS folded')) as { folded: number }[];
  return folded;
}
