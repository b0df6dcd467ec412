import { ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import { Selection } from '../../pipelines/selection';

/**
 * Newest first (or, when paging with after_id, in id order after that id), limited and filtered by
 * creation time, owner and (jobs only) status and lane, as a selection asks.
 */
export function applySelection<T extends ObjectLiteral>(query: SelectQueryBuilder<T>, selection: Selection): SelectQueryBuilder<T> {
  const alias = query.alias;
  if (selection.since) query.andWhere(`${alias}.createdAt >= :since`, { since: selection.since });
  if (selection.userId !== null) query.andWhere(`${alias}.userId = :selectedUserId`, { selectedUserId: selection.userId });
  if (selection.status !== null) query.andWhere(`${alias}.status = :status`, { status: selection.status });
  if (selection.lane !== null) query.andWhere(`${alias}.lane = :lane`, { lane: selection.lane });
  if (selection.afterId !== null) {
    query.andWhere(`${alias}.id > :afterId`, { afterId: selection.afterId }).orderBy(`${alias}.id`, 'ASC');
  } else {
    query.orderBy(`${alias}.createdAt`, 'DESC').addOrderBy(`${alias}.id`, 'DESC');
  }
  if (selection.limit !== null) query.take(selection.limit);
  return query;
}

/** The rows of `repository`'s table a selection picks (applySelection), for a table with no repository of its own. */
export function findSelected<T extends ObjectLiteral>(repository: Repository<T>, selection: Selection): Promise<T[]> {
  return applySelection(repository.createQueryBuilder('row'), selection).getMany();
}
