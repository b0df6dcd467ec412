import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotency keys (issue 24): one row per (caller, key), so that a retry reaching any API node,
 * before or after a restart, finds the first request's claim or answer. A row with a `lease` is
 * in flight until `leased_until`, which its request keeps moving forward; once answered, the lease
 * is cleared and the answer kept until `expires_at`. Logged: a crash of PostgreSQL must not make a
 * retry do its work again.
 */
export class IdempotencyKeys1797500000000 implements MigrationInterface {
  name = 'IdempotencyKeys1797500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "idempotency_keys" (
        "owner" text NOT NULL,
        "key" text NOT NULL,
        "fingerprint" bytea NOT NULL,
        "lease" uuid,
        "leased_until" timestamptz,
        "status" smallint,
        "headers" jsonb,
        "body" text,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "expires_at" timestamptz NOT NULL,
        CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("owner", "key"),
        CONSTRAINT "idempotency_keys_in_flight_or_answered" CHECK (
          ("lease" IS NOT NULL AND "leased_until" IS NOT NULL AND "status" IS NULL)
          OR ("lease" IS NULL AND "leased_until" IS NULL AND "status" IS NOT NULL AND "headers" IS NOT NULL)
        )
      )`);
    await queryRunner.query(`CREATE INDEX "idempotency_keys_expires_at_idx" ON "idempotency_keys" ("expires_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
  }
}
