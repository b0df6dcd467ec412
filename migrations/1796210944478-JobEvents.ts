import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Live job events (GET /api/jobs/:id/events). A trigger on `jobs` records each change of status or
 * progress as a row of `job_events`, in the transaction that makes it, and announces it with
 * pg_notify, which PostgreSQL delivers at commit: every transition, from any process on any
 * machine (API, worker, reconciler), is captured without the code that makes it knowing.
 *
 * The trigger is kept lean, since a worker makes several transitions per job: it fires only when
 * status or progress changed (the WHEN clause spares the function call otherwise), reads nothing,
 * and writes one row, or two for a final status (its outputs or its error). The notice carries
 * the event itself, so listeners need no lookup; an event too big for a notice (8000 bytes) is
 * announced without its data, which the listener then reads by id. `created_at` is the insert's
 * clock time, not the transaction's start, so that replay windows and latencies measure the change.
 *
 * `job_events_secret` holds the key that signs the short-lived `?access_token=` of event streams,
 * shared by every API process of the installation.
 */
export class JobEvents1796210944478 implements MigrationInterface {
  name = 'JobEvents1796210944478';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "job_events" (
                "id" bigserial NOT NULL,
                "job_id" integer NOT NULL,
                "user_id" integer NOT NULL,
                "type" varchar(16) NOT NULL,
                "data" jsonb NOT NULL,
                "created_at" timestamptz NOT NULL DEFAULT clock_timestamp(),
                CONSTRAINT "job_events_pkey" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`CREATE INDEX "job_events_job_id_idx" ON "job_events" ("job_id", "id")`);
    await queryRunner.query(`CREATE INDEX "job_events_created_at_idx" ON "job_events" ("created_at")`);
    await queryRunner.query(`
            CREATE FUNCTION record_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                stamp text := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
                status_changed boolean := TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status;
                kind text;
                body jsonb;
                event_id bigint;
                notice text;
            BEGIN
                FOR step IN 1..2 LOOP
                    IF step = 1 AND status_changed THEN
                        kind := 'status';
                        body := jsonb_build_object('job_id', NEW.id, 'status', NEW.status, 'progress', NEW.progress,
                            'attempts', NEW.attempts, 'error', NEW.error, 'at', stamp);
                    ELSIF step = 1 THEN
                        kind := 'progress';
                        body := jsonb_build_object('job_id', NEW.id, 'progress', NEW.progress, 'at', stamp);
                    ELSIF status_changed AND NEW.status = 'completed' THEN
                        kind := 'outputs';
                        body := jsonb_build_object('job_id', NEW.id, 'outputs', NEW.output_image_ids, 'result', NEW.result, 'at', stamp);
                    ELSIF status_changed AND NEW.status = 'failed' THEN
                        kind := 'error';
                        body := jsonb_build_object('job_id', NEW.id, 'error', NEW.error, 'at', stamp);
                    ELSE
                        EXIT;
                    END IF;
                    INSERT INTO job_events (job_id, user_id, type, data) VALUES (NEW.id, NEW.user_id, kind, body)
                        RETURNING id INTO event_id;
                    notice := json_build_object('id', event_id, 'job_id', NEW.id, 'user_id', NEW.user_id, 'type', kind, 'data', body)::text;
                    IF octet_length(notice) > 7900 THEN
                        notice := json_build_object('id', event_id, 'job_id', NEW.id, 'user_id', NEW.user_id, 'type', kind)::text;
                    END IF;
                    PERFORM pg_notify('darkroom_job_events', notice);
                END LOOP;
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "jobs_events_insert" AFTER INSERT ON "jobs"
            FOR EACH ROW EXECUTE FUNCTION record_job_event()
        `);
    await queryRunner.query(`
            CREATE TRIGGER "jobs_events_update" AFTER UPDATE OF "status", "progress" ON "jobs"
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.progress IS DISTINCT FROM NEW.progress)
            EXECUTE FUNCTION record_job_event()
        `);
    await queryRunner.query(`
            CREATE TABLE "job_events_secret" (
                "id" boolean NOT NULL DEFAULT true,
                "secret" text NOT NULL,
                CONSTRAINT "job_events_secret_pkey" PRIMARY KEY ("id"),
                CONSTRAINT "job_events_secret_one_row" CHECK ("id")
            )
        `);
    await queryRunner.query(`
            INSERT INTO "job_events_secret" ("secret")
            VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''))
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "job_events_secret"`);
    await queryRunner.query(`DROP TRIGGER "jobs_events_update" ON "jobs"`);
    await queryRunner.query(`DROP TRIGGER "jobs_events_insert" ON "jobs"`);
    await queryRunner.query(`DROP FUNCTION record_job_event()`);
    await queryRunner.query(`DROP TABLE "job_events"`);
  }
}
