import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import { DataSource, EntityManager, In, SelectQueryBuilder } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { entityFromRow } from '../database/entity-from-row';
import { histogramBinsOf, HistogramTarget } from '../histograms/histogram-bins';
import { Histogram } from '../histograms/histogram.entity';
import { Selection } from '../pipelines/selection';
import { Image } from './image.entity';

/** An image as the API shows it, read in one statement: no entity, no ORM hydration. */
export interface ImageRow {
  id: number;
  status: string;
  s3_key: string | null;
  image_type: string | null;
  image_type_id: number | null;
  user_id: number;
  original_id: number | null;
  width: number | null;
  height: number | null;
  blurhash: string | null;
  dominant_color: string | null;
  format: string | null;
  bytes: number | null;
  sha256: string | null;
  job_id: number | null;
  corrupt_reason: string | null;
  /** The 256 bins of a histogram image, when asked for; null otherwise. */
  histogram: number[] | null;
  created_at: Date;
  updated_at: Date;
}

/** Rows a cursor hands over at a time: under a megabyte with bins, whatever the list's length. */
const CURSOR_BATCH = 500;

/**
 * An image's fields as the API answers them, in ImageResponseDto's order, from `images i` and
 * `image_types t`: the one mapping of an images row, for the rows (ImageRow) and for the JSON text
 * (jsonRowsSelect) alike. `histogram`: the bins, a null column, or no column at all. The bins come
 * from a subquery rather than a join so that PostgreSQL looks them up row by row as the rows go
 * out, and a list without them never touches histograms.
 */
function imageFields(histogram: 'bins' | 'null' | 'none', timestamp: (column: string) => string = (column) => column): string {
  const bins = histogram === 'bins' ? '(SELECT h.bins FROM histograms h WHERE h.image_id = i.id)' : 'NULL::integer[]';
  return [
    'i.id, i.status, i.s3_key, t.type_name AS image_type, i.image_type_id, i.user_id, i.original_id',
    'i.width, i.height, i.blurhash, i.dominant_color, i.format, i.bytes, i.sha256, i.job_id, i.corrupt_reason',
    ...(histogram === 'none' ? [] : [`${bins} AS histogram`]),
    `${timestamp('i.created_at')} AS created_at, ${timestamp('i.updated_at')} AS updated_at`,
  ].join(',\n          ');
}

/** The columns of an ImageRow. */
function columns(withHistogram: boolean): string {
  return `${imageFields(withHistogram ? 'bins' : 'null')}
     FROM images i LEFT JOIN image_types t ON t.id = i.image_type_id`;
}

const STATEMENT_NAMES = new Map<string, string>();

/**
 * A name for a list statement, the same for the same text. A selection makes one of a few dozen
 * texts (which filters it has, the order, the bins), so each connection prepares at most those.
 */
function statementName(text: string): string {
  let name = STATEMENT_NAMES.get(text);
  if (name === undefined) {
    name = `darkroom-images-${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    STATEMENT_NAMES.set(text, name);
  }
  return name;
}

/** The FROM, WHERE, ORDER BY and LIMIT of an index: newest first, or in id order after `afterId` for clients that page. */
function listClauses(selection: Selection): { clauses: string; values: unknown[] } {
  const values: unknown[] = [];
  const conditions: string[] = [];
  const bind = (value: unknown) => `$${values.push(value)}`;
  if (selection.since) conditions.push(`i.created_at >= ${bind(selection.since)}`);
  if (selection.userId !== null) conditions.push(`i.user_id = ${bind(selection.userId)}`);
  if (selection.imageType !== null) conditions.push(`t.type_name = ${bind(selection.imageType)}`);
  if (selection.afterId !== null) conditions.push(`i.id > ${bind(selection.afterId)}`);
  const clauses = `${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
    ORDER BY ${selection.afterId !== null ? 'i.id' : 'i.created_at DESC, i.id DESC'}
    ${selection.limit !== null ? `LIMIT ${bind(selection.limit)}` : ''}`;
  return { clauses, values };
}

function listStatement(selection: Selection): { text: string; values: unknown[] } {
  const { clauses, values } = listClauses(selection);
  return { text: `SELECT ${columns(selection.include.includes('histogram'))} ${clauses}`, values };
}

/**
 * `SELECT <each image as JSON text> AS json FROM …`, the JSON being the text ImageResponseDto.fromRow
 * gives it, made by PostgreSQL: a read then costs the API one string instead of a row object (and
 * its 256 bins parsed from an array's text), two Dates, a response object and its serialisation.
 * The fields and their order are ImageResponseDto's; timestamps are written as toISOString()
 * writes them (milliseconds, truncated, UTC); an image without bins has no `histogram` key (a
 * quoted key can only be a key: quotes inside string values are escaped). test/lists.e2e-spec.ts
 * checks that a streamed list, a page and a single read are the same text. `alsoSelect` adds
 * columns of `r` (the answer's fields) beside `json`.
 */
function jsonRowsSelect(withHistogram: boolean, alsoSelect = ''): string {
  const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  const json = `row_to_json(r)::text`;
  return `SELECT ${alsoSelect}${withHistogram ? `replace(${json}, ',"histogram":null', '')` : json} AS json
     FROM images i LEFT JOIN image_types t ON t.id = i.image_type_id,
          LATERAL (SELECT ${imageFields(withHistogram ? 'bins' : 'none', iso)}) r`;
}

/** The same rows as listStatement, as JSON text (jsonRowsSelect), for a streamed list. */
function jsonListStatement(selection: Selection): { text: string; values: unknown[] } {
  const { clauses, values } = listClauses(selection);
  return { text: `${jsonRowsSelect(selection.include.includes('histogram'))} ${clauses}`, values };
}

const ONE_IMAGE = { name: 'darkroom-image-json-by-id', text: `${jsonRowsSelect(true, 'r.user_id, ')} WHERE i.id = $1` };

/** One image as `GET /api/images/:id` answers it, and its owner. */
export interface ImageJson {
  userId: number;
  json: string;
}

/** A histogram image named by id or by its file's storage key. */
/** An image entity with its type and its histogram (a histogram image's bins). */
function withDetails(query: SelectQueryBuilder<Image>): SelectQueryBuilder<Image> {
  return query
    .leftJoinAndSelect('image.imageType', 'imageType')
    .leftJoinAndMapOne('image.histogram', Histogram, 'histogram', 'histogram.image_id = image.id');
}

/**
 * The images table. The reads of images as the API lists and shows them run on every read, so
 * they go straight to the pool, past TypeORM's query runner, as named statements that each
 * connection parses and plans once; the rest read and write entities, in the caller's
 * transaction where one is given.
 */
@Injectable()
export class ImageRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private images(manager: EntityManager = this.dataSource.manager) {
    return manager.getRepository(Image);
  }

  /** The manager outside any transaction, for the quota checks that take one. */
  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /** An image with its type and histogram. */
  findWithDetails(id: number): Promise<Image | null> {
    return withDetails(this.images().createQueryBuilder('image')).where('image.id = :id', { id }).getOne();
  }

  /** The bins of a histogram image of `userId` (histogramBinsOf). */
  histogramBins(userId: number, target: HistogramTarget): Promise<number[] | null> {
    return histogramBinsOf(this.dataSource.manager, userId, target);
  }

  /** Image `id` if it is `userId`'s. */
  findOwned(id: number, userId: number): Promise<Image | null> {
    return this.images().findOneBy({ id, userId });
  }

  /** The images of `ids` that exist, in one query. */
  findByIds(ids: number[]): Promise<Image[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.images().findBy({ id: In([...new Set(ids)]) });
  }

  /** Inserts an image in `manager`'s transaction; the row comes back from the INSERT itself, with no second read. */
  async insert(manager: EntityManager, values: Partial<Image>): Promise<Image> {
    const { raw } = await manager.createQueryBuilder().insert().into(Image).values(values).returning('*').execute();
    return entityFromRow(manager, Image, (raw as Record<string, unknown>[])[0]);
  }

  /** Image `id`, its row locked until `manager`'s transaction ends. */
  lockForUpdate(manager: EntityManager, id: number): Promise<Image | null> {
    return this.images(manager).createQueryBuilder('image').setLock('pessimistic_write').where('image.id = :id', { id }).getOne();
  }

  async update(id: number, changes: Partial<Image>, manager?: EntityManager): Promise<void> {
    await this.images(manager).update(id, changes);
  }

  async delete(manager: EntityManager, id: number): Promise<void> {
    await manager.delete(Image, { id });
  }

  /** Deletes images `ids`; answers each one's id, job and file. */
  async deleteReturning(manager: EntityManager, ids: number[]): Promise<Pick<Image, 'id' | 'jobId' | 's3Key'>[]> {
    if (ids.length === 0) return [];
    const rows = (await manager.query(`DELETE FROM images WHERE id = ANY($1) RETURNING id, job_id, s3_key`, [ids])) as [
      { id: number; job_id: number | null; s3_key: string | null }[],
      number,
    ];
    return rows[0].map((row) => ({ id: row.id, jobId: row.job_id, s3Key: row.s3_key }));
  }

  /** The images made from original `originalId` (ids and jobs only), by job then id. */
  outputsOf(originalId: number, manager?: EntityManager): Promise<Pick<Image, 'id' | 'jobId'>[]> {
    return this.images(manager)
      .createQueryBuilder('image')
      .select(['image.id', 'image.jobId'])
      .where('image.originalId = :id', { id: originalId })
      .orderBy('image.jobId', 'ASC', 'NULLS LAST')
      .addOrderBy('image.id')
      .getMany();
  }

  private pool(): Pool {
    return (this.dataSource.driver as PostgresDriver).master as Pool;
  }

  /** One image with its type's name and, for a histogram image, its bins, as JSON text (jsonRowsSelect). */
  async findJson(id: number): Promise<ImageJson | null> {
    const { rows } = await this.pool().query<{ user_id: number; json: string }>({ ...ONE_IMAGE, values: [id] });
    return rows.length > 0 ? { userId: rows[0].user_id, json: rows[0].json } : null;
  }

  /** Images `ids` as the lists answer them (no bins), in `manager`'s transaction: delta sync reads them in its snapshot. */
  async rowsIn(manager: EntityManager, ids: number[]): Promise<ImageRow[]> {
    if (ids.length === 0) return [];
    return (await manager.query(`SELECT ${columns(false)} WHERE i.id = ANY($1)`, [ids])) as ImageRow[];
  }

  /** A bounded list (`selection.limit` set), read at once. */
  async list(selection: Selection): Promise<ImageRow[]> {
    const { text, values } = listStatement(selection);
    return (await this.pool().query<ImageRow>({ name: statementName(text), text, values })).rows;
  }

  /**
   * Every row a selection picks, as JSON text in batches from a cursor, so that memory stays flat
   * however many there are. The first batch is read before this resolves: a statement that fails, fails here.
   * Ending the iteration early (the client went away) closes the cursor and gives the connection
   * back; a connection that failed is destroyed rather than pooled.
   */
  async stream(selection: Selection): Promise<AsyncIterableIterator<string[]>> {
    const { text, values } = jsonListStatement(selection);
    const client = await this.pool().connect();
    // A broken connection also fails the statement in flight; this only keeps the event from
    // crashing the process, since a checked-out client has no other listener.
    const ignore = () => undefined;
    client.on('error', ignore);
    const batches = (async function* () {
      let failure: unknown;
      try {
        // A declared cursor, rather than a portal read a batch at a time: PostgreSQL plans it for
        // its first rows, and each FETCH is an ordinary statement that fails if the connection does.
        await client.query('BEGIN READ ONLY');
        await client.query(`DECLARE image_list NO SCROLL CURSOR FOR ${text}`, values);
        for (;;) {
          const { rows } = await client.query<{ json: string }>(`FETCH ${CURSOR_BATCH} FROM image_list`);
          if (rows.length > 0) yield rows.map((row) => row.json);
          if (rows.length < CURSOR_BATCH) return;
        }
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        if (failure === undefined) await client.query('ROLLBACK').catch((error: unknown) => (failure = error));
        client.removeListener('error', ignore);
        client.release(failure !== undefined);
      }
    })();
    const first = await batches.next();
    // Hands out the batch already read, then the rest; closing it closes the cursor, even
    // before the first batch was taken (a HEAD request, or a client gone at once).
    let pending: IteratorResult<string[]> | null = first;
    const rest: AsyncIterableIterator<string[]> = {
      next: () => {
        const taken = pending;
        pending = null;
        return taken ? Promise.resolve(taken) : batches.next();
      },
      return: () => batches.return(undefined),
      [Symbol.asyncIterator]: () => rest,
    };
    return rest;
  }
}
