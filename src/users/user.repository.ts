import type { EntityManager } from 'typeorm';
import { applySelection } from '../common/selection/apply-selection';
import { AdvisoryLock } from '../database/advisory-locks';
import type { Selection } from '../pipelines/selection';
import { User } from './user.entity';

/**
 * The users table's statements beyond TypeORM's plain reads and saves. Each takes the caller's
 * manager, so that it runs in the caller's transaction where there is one.
 */

/**
 * Whether a sign-up on an installation without ADMIN_TOKEN makes the first account, deciding in
 * turn with the others: a transaction-scoped advisory lock first, then the look for other
 * accounts, whose snapshot (READ COMMITTED) is taken after the lock is granted.
 */
export async function isFirstAccount(manager: EntityManager): Promise<boolean> {
  await manager.query('SELECT pg_advisory_xact_lock($1)', [AdvisoryLock.FirstAdmin]);
  return !(await manager.exists(User));
}

/** The users a selection picks, only `ownerId` when given (its user_id filter does not apply to users). */
export function listUsers(manager: EntityManager, ownerId: number | null, selection: Selection): Promise<User[]> {
  const query = manager.getRepository(User).createQueryBuilder('user');
  if (ownerId !== null) query.andWhere('user.id = :ownerId', { ownerId });
  return applySelection(query, { ...selection, userId: null }).getMany();
}

/** The storage keys of `userId`'s images that have a file. */
export async function storedKeysOf(manager: EntityManager, userId: number): Promise<string[]> {
  const rows: { s3_key: string }[] = await manager.query('SELECT s3_key FROM images WHERE user_id = $1 AND s3_key IS NOT NULL', [userId]);
  return rows.map((row) => row.s3_key);
}

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
