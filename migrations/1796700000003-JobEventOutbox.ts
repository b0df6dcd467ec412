import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One outbox write per change of a job. The two triggers on a job's status (JobEvents's
 * `record_job_event`, which wrote a `status` event and then an `outputs` or `error` event for a
 * final status, and Webhooks's `record_webhook_delivery`) become one function, which writes ONE
 * `job_events` row per change and sends ONE notice, on `darkroom_job_events`:
 *
 * - a change of status: a `status` event carrying the whole state a client needs (status,
 *   progress, attempts, error, outputs, result), even when progress changed with it (the worker's
 *   final update sets both);
 * - a change of progress alone (a finished step): a `progress` event. The WHEN clause of
 *   `jobs_events_update`, kept from JobEvents, spares the call when neither changed, so rewriting
 *   an unchanged progress records nothing.
 *
 * When the change ends a job that has a `callback_url`, the same call also records its webhook
 * delivery (its payload is the job's row as it ended, as before) and names it in the notice, which
 * the workers' dispatcher listens to in place of `darkroom_webhooks`. No dynamic SQL, nothing read.
 *
 * Events already kept are rewritten in the new shape, so that a replay after the upgrade matches
 * the contract: each final status event takes its outputs, and the `outputs` and `error` events go.
 */
export class JobEventOutbox1796700000003 implements MigrationInterface {
  name = 'JobEventOutbox1796700000003';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "jobs_webhooks" ON "jobs"`);
    await queryRunner.query(`DROP FUNCTION record_webhook_delivery()`);
    await queryRunner.query(`
            CREATE OR REPLACE FUNCTION record_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                stamp text := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
                kind text := 'status';
                body jsonb;
                delivery uuid;
                event_id bigint;
                notice text;
            BEGIN
                IF TG_OP = 'UPDATE' AND NEW.status = OLD.status THEN
                    kind := 'progress';
                    body := jsonb_build_object('job_id', NEW.id, 'progress', NEW.progress, 'at', stamp);
                ELSE
                    body := jsonb_build_object('job_id', NEW.id, 'status', NEW.status, 'progress', NEW.progress, 'attempts', NEW.attempts,
                        'error', NEW.error, 'outputs', NEW.output_image_ids, 'result', NEW.result, 'at', stamp);
                    IF NEW.callback_url IS NOT NULL AND NEW.status IN ('completed', 'failed', 'cancelled') THEN
                        INSERT INTO webhook_deliveries (job_id, user_id, event, url, payload)
                        VALUES (NEW.id, NEW.user_id, 'job.' || NEW.status, NEW.callback_url, to_jsonb(NEW))
                        RETURNING id INTO delivery;
                    END IF;
                END IF;
                INSERT INTO job_events (job_id, user_id, type, data) VALUES (NEW.id, NEW.user_id, kind, body)
                    RETURNING id INTO event_id;
                notice := json_build_object('id', event_id, 'job_id', NEW.id, 'user_id', NEW.user_id, 'type', kind, 'delivery', delivery, 'data', body)::text;
                IF octet_length(notice) > 7900 THEN
                    notice := json_build_object('id', event_id, 'job_id', NEW.id, 'user_id', NEW.user_id, 'type', kind, 'delivery', delivery)::text;
                END IF;
                PERFORM pg_notify('darkroom_job_events', notice);
                RETURN NULL;
            END
            $$
        `);
    // Each `outputs` event was written right after its job's final status event, in the same call.
    await queryRunner.query(`
            UPDATE job_events ended SET data = ended.data || jsonb_build_object('outputs', extra.data->'outputs', 'result', extra.data->'result')
              FROM job_events extra
             WHERE extra.type = 'outputs'
               AND ended.id = (SELECT max(id) FROM job_events earlier
                                WHERE earlier.job_id = extra.job_id AND earlier.type = 'status' AND earlier.id < extra.id)
        `);
    await queryRunner.query(
      `UPDATE job_events SET data = data || '{"outputs": [], "result": null}' WHERE type = 'status' AND NOT data ? 'outputs'`,
    );
    await queryRunner.query(`DELETE FROM job_events WHERE type IN ('outputs', 'error')`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE OR REPLACE FUNCTION record_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
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
            CREATE FUNCTION record_webhook_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                delivery uuid;
            BEGIN
                INSERT INTO webhook_deliveries (job_id, user_id, event, url, payload)
                VALUES (NEW.id, NEW.user_id, 'job.' || NEW.status, NEW.callback_url, to_jsonb(NEW))
                RETURNING id INTO delivery;
                PERFORM pg_notify('darkroom_webhooks', delivery::text);
                RETURN NULL;
            END
            $$
        `);
    await queryRunner.query(`
            CREATE TRIGGER "jobs_webhooks" AFTER UPDATE OF "status" ON "jobs"
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                AND NEW.status IN ('completed', 'failed', 'cancelled') AND NEW.callback_url IS NOT NULL)
            EXECUTE FUNCTION record_webhook_delivery()
        `);
    // The older streams end a job's stream on the event after its final status: each kept final
    // status gets it back (numbered after every kept event, which only a job retried since sees out of order).
    await queryRunner.query(`
            INSERT INTO job_events (job_id, user_id, type, data, created_at)
            SELECT job_id, user_id,
                   CASE data->>'status' WHEN 'completed' THEN 'outputs' ELSE 'error' END,
                   CASE data->>'status'
                       WHEN 'completed' THEN jsonb_build_object('job_id', job_id, 'outputs', data->'outputs', 'result', data->'result', 'at', data->'at')
                       ELSE jsonb_build_object('job_id', job_id, 'error', data->'error', 'at', data->'at')
                   END,
                   created_at
              FROM job_events
             WHERE type = 'status' AND data->>'status' IN ('completed', 'failed')
             ORDER BY id
        `);
  }
}
