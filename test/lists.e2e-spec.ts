import { NestExpressApplication } from '@nestjs/platform-express';
import { ClientRequest, IncomingMessage, request } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import { DataSource } from 'typeorm';
import { createImage, createImageType, createStoredImage, createUser, TestUser } from './utils/factories';
import { ADMIN_TOKEN, api, bearer, createTestApp } from './utils/test-app';

/** Enough rows (about 15 MB with their bins) that no socket buffer holds a whole streamed list. */
const MANY = 12_000;

type Row = { id: number; histogram?: number[]; [field: string]: unknown };

/** The next link of a Link header, as the path and query to request. */
const nextOf = (link: string | undefined): string | null => (link ? /^<([^>]+)>; rel="next"$/.exec(link)![1] : null);

describe('lists at any size', () => {
  let app: NestExpressApplication;
  let dataSource: DataSource;
  let baseUrl: string;
  let carol: TestUser;
  let carolIds: number[];

  beforeAll(async () => {
    app = await createTestApp();
    dataSource = app.get(DataSource);
    const server = app.getHttpServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    carol = await createUser(app);
    // Every other image is a histogram image with its bins; creation times are shuffled against
    // ids, so that newest first and id order are different orders.
    await dataSource.query(
      `WITH made AS (
         INSERT INTO images (status, user_id, image_type_id, width, height, format, created_at)
         SELECT 'processed', $1,
                (SELECT id FROM image_types WHERE type_name = CASE WHEN g % 2 = 0 THEN 'histogram' ELSE 'original' END),
                256, 200, 'png', now() - make_interval(secs => (g * 7919) % $2)
           FROM generate_series(1, $2) g
         RETURNING id, image_type_id)
       INSERT INTO histograms (image_id, bins)
       SELECT id, ARRAY(SELECT (random() * 4000)::int + (id * 0) FROM generate_series(1, 256))
         FROM made WHERE image_type_id = (SELECT id FROM image_types WHERE type_name = 'histogram')`,
      [carol.id, MANY],
    );
    carolIds = (await dataSource.query('SELECT id FROM images WHERE user_id = $1 ORDER BY id', [carol.id])).map((row: Row) => row.id);
  }, 60_000);

  afterAll(() => app.close());

  const list = async (path: string, token = carol.token) => api(app).get(path).set(bearer(token)).expect(200);

  /** Follows Link headers from `path` to the end: every row, and each page's size and link. */
  async function walk(path: string): Promise<{ rows: Row[]; pages: { size: number; next: string | null }[] }> {
    const rows: Row[] = [];
    const pages: { size: number; next: string | null }[] = [];
    for (let next: string | null = path; next !== null;) {
      const response = await list(next);
      next = nextOf(response.headers.link);
      rows.push(...response.body);
      pages.push({ size: response.body.length, next });
    }
    return { rows, pages };
  }

  describe('histogram bins', () => {
    it('are left out of index rows unless include=histogram asks, and kept on the single image', async () => {
      const lean: Row[] = (await list('/api/images.json?n=40')).body;
      const full: Row[] = (await list('/api/images.json?n=40&include=histogram')).body;
      expect(lean.map((row) => row.id)).toEqual(full.map((row) => row.id));
      expect(lean.filter((row) => row.image_type === 'histogram')).toHaveLength(20);
      expect(lean.some((row) => 'histogram' in row)).toBe(false);
      for (const [index, row] of full.entries()) {
        if (row.image_type === 'histogram') expect(row.histogram).toHaveLength(256);
        else expect(row).not.toHaveProperty('histogram');
        const { histogram: _histogram, ...rest } = row;
        expect(rest).toEqual(lean[index]);
      }
      const withBins = full.find((row) => row.image_type === 'histogram')!;
      const singleResponse = await list(`/api/images/${withBins.id}.json`);
      expect(singleResponse.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(singleResponse.text).toBe(JSON.stringify(withBins));
      const single = singleResponse.body;
      const [{ bins }] = await dataSource.query('SELECT bins FROM histograms WHERE image_id = $1', [withBins.id]);
      expect(single.histogram).toEqual(bins);
    });

    it('keep the default order: newest first', async () => {
      const rows: Row[] = (await list('/api/images.json?n=all')).body;
      const expected = await dataSource.query('SELECT id FROM images WHERE user_id = $1 ORDER BY created_at DESC, id DESC', [carol.id]);
      expect(rows.map((row) => row.id)).toEqual(expected.map((row: Row) => row.id));
    });
  });

  describe('after_id', () => {
    it('walks every row exactly once, in id order, with a Link to each next page while pages are full', async () => {
      const { rows, pages } = await walk('/api/images.json?after_id=0&n=1100');
      expect(rows.map((row) => row.id)).toEqual(carolIds);
      expect(pages.map((page) => page.size)).toEqual([...Array(10).fill(1100), 1000]);
      expect(pages.slice(0, -1).every((page) => page.next !== null)).toBe(true);
      expect(pages[pages.length - 1].next).toBeNull();
      expect(pages[0].next).toBe(`/api/images.json?after_id=${carolIds[1099]}&n=1100`);
    });

    it('keeps the other parameters and the path in the link, and ends with an empty page after a last full one', async () => {
      const histogramIds = (
        await dataSource.query(
          `SELECT i.id FROM images i JOIN image_types t ON t.id = i.image_type_id WHERE i.user_id = $1 AND t.type_name = 'histogram' ORDER BY i.id`,
          [carol.id],
        )
      ).map((row: Row) => row.id);
      const { rows, pages } = await walk('/api/images?image_type=histogram&n=1500&include=histogram&after_id=0');
      expect(rows.map((row) => row.id)).toEqual(histogramIds);
      expect(rows.every((row) => row.histogram?.length === 256)).toBe(true);
      expect(pages.map((page) => page.size)).toEqual([1500, 1500, 1500, 1500, 0]);
      expect(pages[0].next).toBe(`/api/images?image_type=histogram&n=1500&include=histogram&after_id=${histogramIds[1499]}`);
      expect(pages[3].next).not.toBeNull();
    });

    it('starts after any id, whether or not it exists', async () => {
      const from = carolIds[100] - 1;
      const page: Row[] = (await list(`/api/images.json?after_id=${from}&n=3`)).body;
      expect(page.map((row) => row.id)).toEqual(carolIds.slice(100, 103));
    });

    it('pages jobs and users too', async () => {
      const dave = await createUser(app);
      const image = await createStoredImage(app, dave);
      const jobIds: number[] = [];
      for (let i = 0; i < 3; i++) {
        const job = await api(app)
          .post('/api/jobs.json')
          .set(bearer(dave.token))
          .send({ image_id: image.id, job_type: 'grayscale' })
          .expect(201);
        jobIds.push(job.body.id);
      }
      const first = await list('/api/jobs.json?after_id=0&n=2', dave.token);
      expect(first.body.map((job: Row) => job.id)).toEqual(jobIds.slice(0, 2));
      expect(nextOf(first.headers.link)).toBe(`/api/jobs.json?after_id=${jobIds[1]}&n=2`);
      const last = await list(nextOf(first.headers.link)!, dave.token);
      expect(last.body.map((job: Row) => job.id)).toEqual(jobIds.slice(2));
      expect(last.headers.link).toBeUndefined();

      // Other suites may sign users up meanwhile: the next user after carol is whoever the database says.
      const [{ id: next }] = await dataSource.query('SELECT min(id) AS id FROM users WHERE id > $1', [carol.id]);
      const users = await list(`/api/users.json?after_id=${carol.id}&n=1`, ADMIN_TOKEN);
      expect(users.body.map((user: Row) => user.id)).toEqual([next]);
      expect(nextOf(users.headers.link)).toBe(`/api/users.json?after_id=${next}&n=1`);
    });

    it('leaves lists that do not page without a link', async () => {
      expect((await list('/api/images.json?n=5')).headers.link).toBeUndefined();
      expect((await list('/api/images.json?n=all&after_id=0')).headers.link).toBeUndefined();
    });
  });

  describe('n=all', () => {
    it('answers the same rows as paging does, each exactly as a page writes it', async () => {
      const streamed = await list('/api/images.json?n=all&include=histogram&after_id=0');
      const page = await list(`/api/images.json?n=${MANY}&include=histogram&after_id=0`);
      expect(streamed.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(streamed.text).toBe(page.text);
      expect(streamed.body).toHaveLength(MANY);
      const { rows } = await walk('/api/images.json?after_id=0&n=5000&include=histogram');
      expect(streamed.body).toEqual(rows);
    }, 120_000);

    it('writes every field of every row as a page does, newest first too: files, types, originals, nulls', async () => {
      const frank = await createUser(app);
      const stored = await createStoredImage(app, frank);
      const imageType = await createImageType(app);
      await createImage(app, frank, { original_id: stored.id, image_type: imageType.type_name });
      await createImage(app, frank);
      for (const query of ['n=all', 'n=all&include=histogram']) {
        const streamed = await list(`/api/images.json?${query}`, frank.token);
        expect(streamed.body).toHaveLength(3);
        expect(streamed.text).toBe((await list(`/api/images.json?${query.replace('n=all', 'n=10')}`, frank.token)).text);
      }
      // A single read is PostgreSQL's JSON too: the same text as the page's row.
      for (const row of (await list('/api/images.json?n=10', frank.token)).body as Row[]) {
        expect((await list(`/api/images/${row.id}.json`, frank.token)).text).toBe(JSON.stringify(row));
      }
      const newest = await list('/api/images.json?n=all', carol.token);
      expect(newest.text).toBe((await list(`/api/images.json?n=${MANY}`, carol.token)).text);
    });

    it('answers an empty list as []', async () => {
      const eve = await createUser(app);
      expect((await list('/api/images.json?n=all', eve.token)).text).toBe('[]');
    });

    it('still answers a refused selection with a JSON error', async () => {
      const response = await api(app).get('/api/images.json?n=all&image_type=sepia').set(bearer(carol.token)).expect(422);
      expect(response.body.details[0]).toMatchObject({ field: 'image_type' });
    });
  });

  describe('refusals', () => {
    it.each([
      ['after_id=-1', 'after_id', 'after_id must be an id from 0 to 2147483647, not "-1"'],
      ['after_id=abc', 'after_id', 'after_id must be an id from 0 to 2147483647, not "abc"'],
      ['after_id=01', 'after_id', 'after_id must be an id from 0 to 2147483647, not "01"'],
      ['after_id=2147483648', 'after_id', 'after_id must be an id from 0 to 2147483647, not "2147483648"'],
      ['after_id=1&after_id=2', 'after_id', 'after_id must be given once, as a single value'],
      ['include=bins', 'include', 'include must name only histogram, not "bins"'],
      ['include=histogram,outputs', 'include', 'include must name only histogram, not "outputs"'],
    ])('refuses %s on the images index with 422 naming %s', async (query, field, message) => {
      const response = await api(app).get(`/api/images.json?${query}`).set(bearer(carol.token)).expect(422);
      expect(response.body.details).toEqual([{ field, message }]);
    });

    it('refuses include where there is nothing to include, and a bad after_id on jobs', async () => {
      const jobs = await api(app).get('/api/jobs.json?include=histogram').set(bearer(carol.token)).expect(422);
      expect(jobs.body.details[0]).toMatchObject({ field: 'include', message: expect.stringMatching(/^include is not a known parameter/) });
      const badId = await api(app).get('/api/jobs.json?after_id=x').set(bearer(carol.token)).expect(422);
      expect(badId.body.details[0]).toMatchObject({ field: 'after_id' });
    });
  });

  describe('a streamed list and its database connection', () => {
    /** Backends holding a streamed list's cursor open: idle in its transaction between two FETCHes. */
    const openCursors = (): Promise<{ pid: number }[]> =>
      dataSource.query(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND state <> 'idle' AND query LIKE '%image_list%'`,
      );

    async function until<T>(condition: () => Promise<T | null>, what: string): Promise<T> {
      for (let tries = 0; tries < 200; tries++) {
        const value = await condition();
        if (value !== null) return value;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`Gave up waiting for ${what}`);
    }

    /** Starts a streamed list and resolves once its first bytes are in, with the response paused. */
    function openList(path: string): Promise<{ request: ClientRequest; response: IncomingMessage }> {
      return new Promise((resolve, reject) => {
        const req = request(`${baseUrl}${path}`, { headers: bearer(carol.token) }, (response) => {
          expect(response.statusCode).toBe(200);
          response.once('data', () => {
            response.pause();
            resolve({ request: req, response });
          });
        });
        req.on('error', reject);
        req.end();
      });
    }

    /** Reads the rest of a response: whether it arrived complete, and its text. */
    function finish(response: IncomingMessage): Promise<{ complete: boolean }> {
      return new Promise((resolve) => {
        response.on('error', () => undefined);
        response.on('close', () => resolve({ complete: response.complete }));
        response.resume();
      });
    }

    it('aborts the answer when the database fails mid-stream, rather than ending a truncated array', async () => {
      const { response } = await openList('/api/images.json?n=all&include=histogram');
      const [cursor] = await until(async () => ((await openCursors()).length > 0 ? openCursors() : null), 'the cursor');
      await dataSource.query('SELECT pg_terminate_backend($1)', [cursor.pid]);
      expect(await finish(response)).toEqual({ complete: false });
      // The broken connection was not pooled: the next lists are served.
      expect((await list('/api/images.json?n=all')).body).toHaveLength(MANY);
      expect((await list('/api/images.json?n=3')).body).toHaveLength(3);
    });

    /** Sends a request and hangs up at once: the answer finds the client gone before its first byte. */
    function hangUp(path: string): Promise<void> {
      return new Promise((resolve) => {
        const socket = connect(Number(new URL(baseUrl).port), '127.0.0.1', () => {
          socket.end(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${carol.token}\r\n\r\n`, () => {
            socket.destroy();
            resolve();
          });
        });
      });
    }

    it('closes the cursor and gives the connection back when the client goes away', async () => {
      // More abandoned lists than the pool has connections: a leaked one would leave none.
      for (let i = 0; i < 22; i++) {
        const { request: req } = await openList('/api/images.json?n=all&include=histogram');
        req.destroy();
        await hangUp('/api/images.json?n=all&include=histogram');
      }
      await until(async () => ((await openCursors()).length === 0 ? true : null), 'every cursor to close');
      expect((await list('/api/images.json?n=all')).body).toHaveLength(MANY);
    }, 60_000);

    it('answers HEAD with the headers alone, and frees the cursor it opened', async () => {
      for (let i = 0; i < 22; i++) {
        const response = await api(app).head('/api/images.json?n=all').set(bearer(carol.token)).expect(200);
        expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      }
      await until(async () => ((await openCursors()).length === 0 ? true : null), 'every cursor to close');
      expect((await list('/api/images.json?n=3')).body).toHaveLength(3);
    }, 60_000);
  });
});
