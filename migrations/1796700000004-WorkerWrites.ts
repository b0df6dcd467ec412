import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The worker records a job's outputs and its completion in one call (src/job-runs/job-output.repository.ts,
 * `recordAttempts`), for one or several jobs at once. Each entry is one attempt's writes, under
 * its own fence and in its own subtransaction, so that one fenced-out job, one past its storage
 * quota or one whose source was deleted leaves the others' writes whole.
 *
 * For each entry, in this order (the order in which deleting an image takes its locks, so the two
 * never deadlock): the outputs recorded earlier (`kept_ids`) are held FOR KEY SHARE; the job's row
 * is locked if the fence holds (`fenced` otherwise, and nothing is written); each output, in step
 * order, moves the job's progress (one event a step, as a step recorded on its own does), is
 * inserted unless another delivery recorded that step first (its output then wins, and is
 * returned), with its histogram, and is checked against its owner's storage quota exactly as
 * assertStorageAfterWrite does (src/quotas/quotas.ts: same rule, same message, the same
 * lock_user_storage); with `complete`, the job is then completed with every output that still
 * exists, in step order, and `verified_source_id`, a source the attempt decoded whole, is marked
 * verified (src/job-runs/verified-source.ts is the same write for `JobRepository.finish`).
 */
export class WorkerWrites1796700000004 implements MigrationInterface {
  name = 'WorkerWrites1796700000004';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE FUNCTION darkroom_record_attempts(entries jsonb, default_storage_bytes bigint) RETURNS jsonb
            LANGUAGE plpgsql AS $$
            DECLARE
                entry jsonb;
                results jsonb := '[]';
                fenced_job integer;
                owner integer;
                source integer;
                kept integer[];
                output record;
                new_id integer;
                winner record;
                recorded jsonb;
                recorded_ids integer[];
                used bigint;
                storage_limit bigint;
                final_ids integer[];
                ended_type text[];
                broken text;
            BEGIN
                FOR entry IN SELECT value FROM jsonb_array_elements(entries) LOOP
                    BEGIN
                        SELECT coalesce(array_agg(held.id), '{}') INTO kept FROM (
                            SELECT id FROM images
                             WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text(entry->'kept_ids')::integer))
                             ORDER BY id FOR KEY SHARE) held;
                        SELECT id, user_id, image_id INTO fenced_job, owner, source FROM jobs
                         WHERE id = (entry->>'job_id')::integer AND delivery_id = (entry->>'delivery_id')::uuid
                           AND attempts = (entry->>'attempt')::integer AND status = 'running'
                           FOR NO KEY UPDATE;
                        IF fenced_job IS NULL THEN
                            results := results || jsonb_build_object('job_id', entry->'job_id', 'outcome', 'fenced');
                            CONTINUE;
                        END IF;
                        recorded := '[]';
                        recorded_ids := '{}';
                        FOR output IN
                            SELECT * FROM jsonb_to_recordset(entry->'outputs') AS o(step varchar, step_index smallint, s3_key varchar,
                                   format varchar, width integer, height integer, bytes integer, sha256 char(64), histogram integer[],
                                   progress smallint, work_key char(64))
                             ORDER BY o.step_index
                        LOOP
                            UPDATE jobs SET progress = output.progress, updated_at = now() WHERE id = fenced_job;
                            new_id := NULL;
                            INSERT INTO images (status, s3_key, image_type_id, user_id, original_id, job_id, step_index, width, height, format, bytes, sha256, work_key)
                            VALUES ('processed', output.s3_key, (SELECT id FROM image_types WHERE type_name = output.step), owner, source, fenced_job,
                                    output.step_index, output.width, output.height, output.format, output.bytes, output.sha256, output.work_key)
                            ON CONFLICT DO NOTHING
                            RETURNING id INTO new_id;
                            IF new_id IS NULL THEN
                                SELECT id, s3_key, sha256 INTO winner FROM images
                                 WHERE job_id = fenced_job AND step_index = output.step_index FOR KEY SHARE;
                                IF winner.id IS NULL THEN
                                    RAISE EXCEPTION 'Job %: the output of step % conflicts with an image that is not this job''s', fenced_job, output.step_index + 1;
                                END IF;
                                recorded := recorded || jsonb_build_object('step_index', output.step_index, 'id', winner.id, 's3_key', winner.s3_key, 'sha256', winner.sha256, 'own', false);
                                recorded_ids := recorded_ids || winner.id;
                                CONTINUE;
                            END IF;
                            IF output.histogram IS NOT NULL THEN
                                INSERT INTO histograms (image_id, job_id, bins) VALUES (new_id, fenced_job, output.histogram);
                            END IF;
                            IF output.bytes > 0 THEN
                                SELECT held.storage_bytes, coalesce(held.max_storage_bytes, default_storage_bytes) INTO used, storage_limit
                                  FROM lock_user_storage(owner) held;
                                IF FOUND AND used > storage_limit THEN
                                    RAISE EXCEPTION USING ERRCODE = 'DR001', MESSAGE = format(
                                        'Storage quota exceeded: %s of %s bytes used, and the output of step %s (%s) takes %s more',
                                        used - output.bytes, storage_limit, output.step_index + 1, output.step, output.bytes);
                                END IF;
                            END IF;
                            recorded := recorded || jsonb_build_object('step_index', output.step_index, 'id', new_id, 'own', true);
                            recorded_ids := recorded_ids || new_id;
                        END LOOP;
                        IF NOT coalesce((entry->>'complete')::boolean, false) THEN
                            results := results || jsonb_build_object('job_id', fenced_job, 'outcome', 'recorded', 'outputs', recorded);
                            CONTINUE;
                        END IF;
                        SELECT coalesce(array_agg(id ORDER BY step_index, id), '{}') INTO final_ids FROM images WHERE id = ANY(kept || recorded_ids);
                        UPDATE images SET verified_at = now() WHERE id = (entry->>'verified_source_id')::integer AND verified_at IS NULL;
                        UPDATE jobs SET status = 'completed', progress = 100, error = NULL, finished_at = now(), updated_at = now(), output_image_ids = final_ids
                         WHERE id = fenced_job
                        RETURNING job_type INTO ended_type;
                        results := results || jsonb_build_object('job_id', fenced_job, 'outcome', 'completed', 'outputs', recorded, 'job_type', to_jsonb(ended_type));
                    EXCEPTION
                        WHEN SQLSTATE 'DR001' THEN
                            results := results || jsonb_build_object('job_id', entry->'job_id', 'outcome', 'quota', 'message', SQLERRM);
                        WHEN foreign_key_violation THEN
                            GET STACKED DIAGNOSTICS broken = CONSTRAINT_NAME;
                            IF broken <> 'images_original_id_fkey' THEN RAISE; END IF;
                            results := results || jsonb_build_object('job_id', entry->'job_id', 'outcome', 'source_deleted', 'source_id', source);
                    END;
                END LOOP;
                RETURN results;
            END
            $$
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION darkroom_record_attempts(jsonb, bigint)`);
  }
}
