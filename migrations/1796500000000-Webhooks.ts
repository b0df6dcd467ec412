import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Signed webhooks. A job may carry a `callback_url`; when it reaches a final status, a trigger on
 * `jobs` records a `webhook_deliveries` row in the transaction that ends it, whichever process
 * makes that change (worker, API cancel, reconciler, image deletion, ttl expiry), and announces
 * it with pg_notify at commit. Workers put it on their `webhooks` queue from the notice, and a
 * periodic pass catches any row whose notice nobody heard: an end is never lost between the
 * commit and the enqueue. Each attempt is recorded in `webhook_attempts`.
 *
 * The row keeps the job as it ended (`to_jsonb(NEW)`), so every attempt sends the same body, even
 * once the job was retried or deleted. `webhook_secrets` holds each user's signing secret and the
 * one it replaced, sealed by the application.
 */
export class Webhooks1796500000000 implements MigrationInterface {
  name = 'Webhooks1796500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "jobs" ADD "callback_url" character varying(2048)`);
    await queryRunner.query(`
            CREATE TABLE "webhook_secrets" (
                "user_id" integer NOT NULL,
                "secret" text NOT NULL,
                "previous_secret" text,
                "rotated_at" timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT "webhook_secrets_pkey" PRIMARY KEY ("user_id"),
                CONSTRAINT "webhook_secrets_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
            )
        `);
    await queryRunner.query(`
            CREATE TABLE "webhook_deliveries" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "job_id" integer NOT NULL,
                "user_id" integer NOT NULL,
                "event" character varying(32) NOT NULL,
                "url" character varying(2048) NOT NULL,
                "payload" jsonb NOT NULL,
                "status" character varying(16) NOT NULL DEFAULT 'pending',
                "attempts" integer NOT NULL DEFAULT 0,
                "next_attempt_at" timestamptz NOT NULL DEFAULT now(),
                "created_at" timestamptz NOT NULL DEFAULT now(),
                "finished_at" timestamptz,
                CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id"),
                CONSTRAINT "webhook_deliveries_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
            )
        `);
    await queryRunner.query(`CREATE INDEX "webhook_deliveries_job_id_idx" ON "webhook_deliveries" ("job_id")`);
    await queryRunner.query(
      `CREATE INDEX "webhook_deliveries_pending_idx" ON "webhook_deliveries" ("next_attempt_at") WHERE status = 'pending'`,
    );
    await queryRunner.query(`
            CREATE TABLE "webhook_attempts" (
                "id" bigserial NOT NULL,
                "delivery_id" uuid NOT NULL,
                "attempt" integer NOT NULL,
                "attempted_at" timestamptz NOT NULL,
                "duration_ms" integer NOT NULL,
                "outcome" character varying(16) NOT NULL,
                "status_code" smallint,
                "error" text,
                CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("id"),
                CONSTRAINT "webhook_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE NO ACTION
            )
        `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "webhook_attempts_delivery_id_attempt_key" ON "webhook_attempts" ("delivery_id", "attempt")`,
    );
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
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "jobs_webhooks" ON "jobs"`);
    await queryRunner.query(`DROP FUNCTION record_webhook_delivery()`);
    await queryRunner.query(`DROP TABLE "webhook_attempts"`);
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP TABLE "webhook_secrets"`);
    await queryRunner.query(`ALTER TABLE "jobs" DROP COLUMN "callback_url"`);
  }
}
