import { MigrationInterface, QueryRunner } from 'typeorm';
import { WorkerWrites1796700000004 } from './1796700000004-WorkerWrites';

/**
 * Placeholders for every image (docs/placeholders.md): its BlurHash and dominant colour, which the
 * worker computes from the decode it makes anyway, and an oriented width and height. Both columns
 * are nullable: an original has none until the worker decodes it. The partial index holds only the
 * images with a file and no placeholders yet (those stored before this, mostly), which the
 * worker's pass over stored files (src/worker/image-verifier.ts) reads a few at a time.
 *
 * darkroom_record_attempts (1796700000004-WorkerWrites) is replaced by the same function that
 * also writes each output's placeholders; its rules are unchanged. Until the workers run this
 * release, their outputs carry none, and the pass gives them theirs.
 */
export class Placeholders1797000000000 implements MigrationInterface {
  name = 'Placeholders1797000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "images" ADD "blurhash" varchar(64)`);
    await queryRunner.query(`ALTER TABLE "images" ADD "dominant_color" char(7)`);
    await queryRunner.query(`CREATE INDEX "images_facts_missing_idx" ON "images" ("id") WHERE blurhash IS NULL AND s3_key IS NOT NULL`);
    await queryRunner.query(`
            CREATE OR REPLACE FUNCTION darkroom_record_attempts(entries jsonb, default_storage_bytes bigint) RETURNS jsonb
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
                                   format varchar, width integer, height integer, blurhash varchar, dominant_color char(7), bytes integer,
                                   sha256 char(64), histogram integer[],
                                   progress smallint, work_key char(64))
                             ORDER BY o.step_index
                        LOOP
                            UPDATE jobs SET progress = output.progress, updated_at = now() WHERE id = fenced_job;
                            new_id := NULL;
                            INSERT INTO images (status, s3_key, image_type_id, user_id, original_id, job_id, step_index, width, height,
                                                blurhash, dominant_color, format, bytes, sha256, work_key)
                            VALUES ('processed', output.s3_key, (SELECT id FROM image_types WHERE type_name = output.step), owner, source, fenced_job,
                                    output.step_index, output.width, output.height, output.blurhash, output.dominant_color, output.format,
                                    output.bytes, output.sha256, output.work_key)
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
    await new WorkerWrites1796700000004().up(queryRunner);
    await queryRunner.query(`DROP INDEX "images_facts_missing_idx"`);
    await queryRunner.query(`ALTER TABLE "images" DROP COLUMN "dominant_color"`);
    await queryRunner.query(`ALTER TABLE "images" DROP COLUMN "blurhash"`);
  }
}
