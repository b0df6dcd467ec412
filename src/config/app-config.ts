import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Expose, plainToInstance, Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min, MinLength, validateSync } from 'class-validator';

/**
 * The process environment, validated once at start. Every variable the product reads is declared
 * here so that a typo or a bad value stops the start with a message naming the variable.
 */
export class AppConfig {
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 3000 : Number(value)))
  @IsInt({ message: 'PORT must be an integer between 1 and 65535' })
  @Min(1, { message: 'PORT must be an integer between 1 and 65535' })
  @Max(65535, { message: 'PORT must be an integer between 1 and 65535' })
  PORT: number;

  @Expose()
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/.+/, {
    message: 'DATABASE_URL must be a postgres:// or postgresql:// connection URL',
  })
  DATABASE_URL?: string;

  @Expose()
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'ADMIN_TOKEN must be at least 16 characters long' })
  ADMIN_TOKEN?: string;

  @Expose()
  @Transform(({ value }) => resolve(value === undefined || value === '' ? './data' : String(value)))
  @IsString()
  DATA_DIR: string;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 5433 : Number(value)))
  @IsInt({ message: 'EMBEDDED_PG_PORT must be an integer between 1 and 65535' })
  @Min(1, { message: 'EMBEDDED_PG_PORT must be an integer between 1 and 65535' })
  @Max(65535, { message: 'EMBEDDED_PG_PORT must be an integer between 1 and 65535' })
  EMBEDDED_PG_PORT: number;
}

export class ConfigError extends Error {}

/** Reads `.env` (when present, without overriding variables already set) and validates the result. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, envFile = '.env'): AppConfig {
  if (env === process.env && existsSync(envFile)) {
    process.loadEnvFile(envFile);
  }
  const config = plainToInstance(AppConfig, { ...env }, { excludeExtraneousValues: true });
  const errors = validateSync(config, { skipMissingProperties: false });
  if (errors.length > 0) {
    const lines = errors.flatMap((error) => Object.values(error.constraints ?? {}));
    throw new ConfigError(`Invalid configuration:\n  - ${lines.join('\n  - ')}`);
  }
  return config;
}
