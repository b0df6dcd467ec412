import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotencyKeyRepository } from './idempotency-key.repository';

/** The keys' store, for the interceptor and for the reconciler's pass that deletes expired keys. */
@Module({
  providers: [IdempotencyKeyRepository],
  exports: [IdempotencyKeyRepository],
})
export class IdempotencyKeysModule {}

/** Idempotency-Key on every POST and PATCH of the API (issue 24). */
@Module({
  imports: [IdempotencyKeysModule],
  providers: [{ provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor }],
})
export class IdempotencyModule {}
