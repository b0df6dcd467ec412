import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * A row as `RETURNING *` gives it (column names), as the entity TypeORM would have loaded: the
 * statement that wrote the row also answers it, with no second read.
 */
export function entityFromRow<T extends ObjectLiteral>(manager: EntityManager, target: EntityTarget<T>, row: Record<string, unknown>): T {
  const metadata = manager.connection.getMetadata(target);
  const entity = metadata.create() as Record<string, unknown>;
  for (const column of metadata.columns) {
    if (column.databaseName in row) entity[column.propertyName] = row[column.databaseName];
  }
  return entity as T;
}
