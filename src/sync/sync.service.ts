import { ForbiddenException, GoneException, Injectable } from '@nestjs/common';
import { Principal } from '../identity/principal';
import { ImageResponseDto } from '../images/dto/image-response.dto';
import { JobResponseDto } from '../jobs/dto/job-response.dto';
import { SyncResponseDto } from './dto/sync-response.dto';
import { encodeCursor, isAfter, START, type SyncPosition } from './sync-cursor';
import type { SyncQuery } from './sync-query';
import { SyncRepository } from './sync.repository';

/** Above every transaction id: a full sync's first page answers no tombstone. */
const NO_TOMBSTONES = 2n ** 63n - 1n;

/**
 * Delta sync: the caller's records changed since a cursor, the ids deleted since, and the cursor
 * to come back with. Changes are answered in the order of their transactions' ids, and only for
 * transactions below the snapshot's xmin, which have all ended: one that commits late is always
 * ahead of every cursor answered while it ran, so paging misses nothing, whatever the number of
 * API nodes and however their clocks disagree.
 */
@Injectable()
export class SyncService {
  constructor(private readonly changes: SyncRepository) {}

  async sync(principal: Principal, query: SyncQuery): Promise<SyncResponseDto> {
    // Admins too: a device syncs its user's own records, never the installation's.
    if (principal.userId === null) {
      throw new ForbiddenException('ADMIN_TOKEN owns no records to sync: sign in as a user (POST /api/sessions) and sync with their token');
    }
    const after = query.since?.position ?? START;
    const page = await this.changes.page({
      userId: principal.userId,
      after,
      floor: query.since ? query.since.floor : NO_TOMBSTONES,
      limit: query.limit,
    });
    // A full sync leaves out the tombstones of transactions that ended before it began.
    const floor = query.since ? query.since.floor : page.horizon;
    if (query.since && page.purgedThrough > 0n && page.purgedThrough >= (after.xid > floor ? after.xid : floor)) {
      throw new GoneException(
        'This sync cursor is older than the deletions kept (SYNC_TOMBSTONE_DAYS); sync again without since, from scratch',
      );
    }

    const answer: SyncResponseDto = { images: [], jobs: [], deleted: { images: [], jobs: [] }, cursor: '', has_more: page.more };
    let position: SyncPosition = after;
    for (const { position: at, deleted } of page.changes) {
      position = at;
      if (deleted) {
        answer.deleted[at.kind === 'image' ? 'images' : 'jobs'].push(at.id);
      } else if (at.kind === 'image') {
        const image = page.images.get(at.id);
        if (image) answer.images.push(ImageResponseDto.fromRow(image));
      } else {
        const job = page.jobs.get(at.id);
        if (job) answer.jobs.push(JobResponseDto.from(job));
      }
    }
    // Every change below the horizon was answered: the next sync starts from it, so that a quiet
    // client's cursor keeps up with the purge of old tombstones.
    const resume: SyncPosition = { xid: page.horizon, kind: '', id: 0 };
    if (!page.more && isAfter(resume, position)) position = resume;
    answer.cursor = encodeCursor({ position, floor: position.xid >= floor ? 0n : floor });
    return answer;
  }
}
