import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import type { ImageRow } from '../images/image.repository';
import { ImageRepository } from '../images/image.repository';
import { Job } from '../job-runs/job.entity';
import type { SyncKind } from './sync-change.entity';
import type { SyncPosition } from './sync-cursor';

/** One change as a page lists it: where it stands, and whether it deleted the record. */
export interface SyncChangeRow {
  position: SyncPosition & { kind: SyncKind };
  deleted: boolean;
}

/** A page of one user's changes, and the records they name, all read in one snapshot. */
export interface SyncPage {
  /**
   * xmin of the snapshot the page was read in: every transaction below it had ended, so no change
   * can appear below it later; none at or above it was answered.
   */
  horizon: bigint;
  /** The highest transaction id of the tombstones purged so far (0: none). */
  purgedThrough: bigint;
  /** At most `limit` changes in order; `more` when others below the horizon follow. */
  changes: SyncChangeRow[];
  more: boolean;
  images: Map<number, ImageRow>;
  jobs: Map<number, Job>;
}

export interface SyncPageRequest {
  userId: number;
  after: SyncPosition;
  /** Tombstones of transactions below this one are left out. */
  floor: bigint;
  limit: number;
}

/** The change log the triggers keep (the SyncChanges migration), and the records it names. */
@Injectable()
export class SyncRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly images: ImageRepository,
  ) {}

  /**
   * The horizon, the purge mark, the changes after `after` below the horizon and their records,
   * in one REPEATABLE READ snapshot, so that every record is as its change left it or later, and
   * a deleted record's tombstone is there in its place.
   */
  page(request: SyncPageRequest): Promise<SyncPage> {
    return this.dataSource.transaction('REPEATABLE READ', async (manager) => {
      await manager.query('SET TRANSACTION READ ONLY');
      const [marks] = (await manager.query(
        `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon, sync_purged_through::text AS purged FROM installation`,
      )) as { horizon: string; purged: string }[];
      const horizon = BigInt(marks.horizon);
      const rows = (await manager.query(
        // Ordered by the columns, c.xid and not the output's text `xid`, which would put 10 before 9.
        `SELECT c.kind, c.record_id AS id, c.xid::text AS xid, c.deleted FROM sync_changes c
          WHERE c.user_id = $1 AND c.xid < $2 AND (c.xid, c.kind, c.record_id) > ($3::bigint, $4::varchar, $5::integer)
            AND (NOT c.deleted OR c.xid >= $6)
          ORDER BY c.xid, c.kind, c.record_id
          LIMIT $7`,
        [
          request.userId,
          horizon.toString(),
          request.after.xid.toString(),
          request.after.kind,
          request.after.id,
          request.floor.toString(),
          request.limit + 1,
        ],
      )) as { kind: SyncKind; id: number; xid: string; deleted: boolean }[];
      const changes = rows.slice(0, request.limit).map((row) => ({
        position: { xid: BigInt(row.xid), kind: row.kind, id: row.id },
        deleted: row.deleted,
      }));
      const live = (kind: SyncKind) =>
        changes.filter((change) => !change.deleted && change.position.kind === kind).map((c) => c.position.id);
      const images = await this.images.rowsIn(manager, live('image'));
      const jobs = await jobsIn(manager, live('job'));
      return {
        horizon,
        purgedThrough: BigInt(marks.purged),
        changes,
        more: rows.length > request.limit,
        images: new Map(images.map((image) => [image.id, image])),
        jobs: new Map(jobs.map((job) => [job.id, job])),
      };
    });
  }

  /**
   * Deletes the tombstones older than `days` and raises the purge mark to the highest transaction
   * id among them, in one statement: a cursor not past the mark is then told to start over. Two
   * purges at once delete different rows, and the mark only rises.
   */
  async purgeTombstones(days: number): Promise<number> {
    const [{ purged }] = (await this.dataSource.query(
      `WITH gone AS (DELETE FROM sync_changes WHERE deleted AND changed_at < now() - make_interval(days => $1) RETURNING xid),
            marked AS (UPDATE installation SET sync_purged_through = greatest(sync_purged_through, (SELECT max(xid) FROM gone))
                        WHERE EXISTS (SELECT 1 FROM gone) RETURNING 1)
       SELECT count(*)::integer AS purged FROM gone`,
      [days],
    )) as { purged: number }[];
    return purged;
  }
}

function jobsIn(manager: EntityManager, ids: number[]): Promise<Job[]> {
  return ids.length === 0 ? Promise.resolve([]) : manager.findBy(Job, { id: In(ids) });
}
