import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Expose, plainToInstance, Transform } from 'class-transformer';
import { cpus } from 'node:os';
import { isIP } from 'node:net';
import { defaultLogFormat, LOG_LEVELS, type LogFormat, type LogLevel } from '../common/app-logger';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidateBy,
  ValidateIf,
  validateSync,
} from 'class-validator';

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

  /**
   * Connections a process's pool may open to PostgreSQL for its queries (the queue's pools on the
   * PostgreSQL backend and the LISTEN connection come on top): all processes together must stay
   * under the server's max_connections.
   */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 20))
  @IsInt({ message: 'DATABASE_POOL_SIZE must be a whole number of connections between 1 and 1000' })
  @Min(1, { message: 'DATABASE_POOL_SIZE must be a whole number of connections between 1 and 1000' })
  @Max(1000, { message: 'DATABASE_POOL_SIZE must be a whole number of connections between 1 and 1000' })
  DATABASE_POOL_SIZE: number;

  @Expose()
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'ADMIN_TOKEN must be at least 16 characters long' })
  ADMIN_TOKEN?: string;

  /** A session unused for this many days is over: its token gets 401. */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 90))
  @IsInt({ message: 'SESSION_TTL_DAYS must be a positive whole number of days' })
  @Min(1, { message: 'SESSION_TTL_DAYS must be a positive whole number of days' })
  @Max(36500, { message: 'SESSION_TTL_DAYS must be a positive whole number of days' })
  SESSION_TTL_DAYS: number;

  /**
   * Seconds an API process may reuse a bearer token's lookup (0: look it up on every request).
   * Sign-outs, session deletions, user deletions and admin changes clear it at once everywhere:
   * this is only the backstop.
   */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 30 : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN))
  @IsInt({ message: 'AUTH_CACHE_SECONDS must be a whole number of seconds, at most 3600 (0 turns the cache off)' })
  @Min(0, { message: 'AUTH_CACHE_SECONDS must be a whole number of seconds, at most 3600 (0 turns the cache off)' })
  @Max(3600, { message: 'AUTH_CACHE_SECONDS must be a whole number of seconds, at most 3600 (0 turns the cache off)' })
  AUTH_CACHE_SECONDS: number;

  @Expose()
  @Transform(({ value }) => resolve(value === undefined || value === '' ? './data' : String(value)))
  @IsString()
  DATA_DIR: string;

  /** `json` (one object per line, for a log collector) or `pretty`; by default pretty on a terminal only. */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? defaultLogFormat() : String(value)))
  @IsIn(['json', 'pretty'], { message: 'LOG_FORMAT must be json or pretty' })
  LOG_FORMAT: LogFormat;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 'info' : String(value)))
  @IsIn(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: LogLevel;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 5433 : Number(value)))
  @IsInt({ message: 'EMBEDDED_PG_PORT must be an integer between 1 and 65535' })
  @Min(1, { message: 'EMBEDDED_PG_PORT must be an integer between 1 and 65535' })
  @Max(65535, { message: 'EMBEDDED_PG_PORT must be an integer between 1 and 65535' })
  EMBEDDED_PG_PORT: number;

  @Expose()
  @IsOptional()
  @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 'darkroom' : String(value)))
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'QUEUE_PREFIX must be 1 to 64 letters, digits, "_" or "-"' })
  QUEUE_PREFIX: string;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 'local' : String(value)))
  @IsIn(['local', 's3'], { message: 'STORAGE must be "local" or "s3"' })
  STORAGE: 'local' | 's3';

  @Expose()
  @ValidateIf((config: AppConfig) => config.STORAGE === 's3')
  @IsString({ message: 'S3_BUCKET is required when STORAGE=s3' })
  @MinLength(3, { message: 'S3_BUCKET is required when STORAGE=s3' })
  S3_BUCKET?: string;

  @Expose()
  @IsOptional()
  @Matches(/^https?:\/\/.+/, { message: 'S3_ENDPOINT must be an http:// or https:// URL' })
  S3_ENDPOINT?: string;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 'us-east-1' : String(value)))
  @IsString()
  S3_REGION: string;

  @Expose()
  @IsOptional()
  @IsString()
  S3_ACCESS_KEY_ID?: string;

  @Expose()
  @IsOptional()
  @IsString()
  S3_SECRET_ACCESS_KEY?: string;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, 50 * 1024 * 1024))
  @IsInt({ message: 'MAX_UPLOAD_BYTES must be a positive integer' })
  @Min(1, { message: 'MAX_UPLOAD_BYTES must be a positive integer' })
  MAX_UPLOAD_BYTES: number;

  /**
   * Seconds a resumable upload (tus, /api/uploads) may take from its creation to its last byte:
   * past it, it answers 410 and its bytes are deleted, on disk or in the bucket.
   */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 24 * 3600))
  @IsInt({ message: 'UPLOAD_EXPIRY must be a positive number of seconds' })
  @Min(1, { message: 'UPLOAD_EXPIRY must be a positive number of seconds' })
  @Max(365 * 24 * 3600, { message: 'UPLOAD_EXPIRY must be a positive number of seconds' })
  UPLOAD_EXPIRY: number;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, 50_000_000))
  @IsInt({ message: 'MAX_PIXELS must be a positive integer' })
  @Min(1, { message: 'MAX_PIXELS must be a positive integer' })
  MAX_PIXELS: number;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, cpus().length))
  @IsInt({ message: 'WORKER_CONCURRENCY must be a positive integer' })
  @Min(1, { message: 'WORKER_CONCURRENCY must be a positive integer' })
  WORKER_CONCURRENCY: number;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 'process,query,search' : String(value)).split(',').map((q) => q.trim()))
  @IsIn(['process', 'query', 'search'], { each: true, message: 'WORKER_QUEUES must list some of process, query, search' })
  WORKER_QUEUES: string[];

  /**
   * fair: the dispatcher feeds each queue a few jobs at a time, interactive lane first, users in
   * turns (docs/queues.md); fifo: every job is queued at once in creation order, as before
   * fairness existed (kept to measure against).
   */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 'fair' : String(value)))
  @IsIn(['fair', 'fifo'], { message: 'QUEUE_ORDER must be fair or fifo' })
  QUEUE_ORDER: 'fair' | 'fifo';

  /** Percent of each queue's jobs in flight kept for the bulk lane whenever bulk work is waiting. */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 20 : Number(String(value).replace(/%$/, ''))))
  @IsInt({ message: 'BULK_SHARE must be a whole percentage from 0 to 100' })
  @Min(0, { message: 'BULK_SHARE must be a whole percentage from 0 to 100' })
  @Max(100, { message: 'BULK_SHARE must be a whole percentage from 0 to 100' })
  BULK_SHARE: number;

  /** A batch of at least this many jobs (POST /api/jobs/batch.json) goes to the bulk lane. */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 20))
  @IsInt({ message: 'BULK_BATCH_FROM must be a positive number of jobs' })
  @Min(1, { message: 'BULK_BATCH_FROM must be a positive number of jobs' })
  BULK_BATCH_FROM: number;

  /** The most jobs of one user running at once across every worker; 0: no cap. */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 0 : Number(value)))
  @IsInt({ message: 'USER_CONCURRENCY must be a whole number of jobs (0: no cap)' })
  @Min(0, { message: 'USER_CONCURRENCY must be a whole number of jobs (0: no cap)' })
  USER_CONCURRENCY: number;

  /** The most `process` jobs running at once across every worker; 0: no cap. */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 0 : Number(value)))
  @IsInt({ message: 'QUEUE_CONCURRENCY_process must be a whole number of jobs (0: no cap)' })
  @Min(0, { message: 'QUEUE_CONCURRENCY_process must be a whole number of jobs (0: no cap)' })
  QUEUE_CONCURRENCY_process: number;

  /** The most `query` jobs running at once across every worker; 0: no cap. */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 0 : Number(value)))
  @IsInt({ message: 'QUEUE_CONCURRENCY_query must be a whole number of jobs (0: no cap)' })
  @Min(0, { message: 'QUEUE_CONCURRENCY_query must be a whole number of jobs (0: no cap)' })
  QUEUE_CONCURRENCY_query: number;

  /** The most `search` jobs running at once across every worker; 0: no cap. */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 0 : Number(value)))
  @IsInt({ message: 'QUEUE_CONCURRENCY_search must be a whole number of jobs (0: no cap)' })
  @Min(0, { message: 'QUEUE_CONCURRENCY_search must be a whole number of jobs (0: no cap)' })
  QUEUE_CONCURRENCY_search: number;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, 300))
  @IsInt({ message: 'JOB_TIMEOUT must be a positive number of seconds' })
  @Min(1, { message: 'JOB_TIMEOUT must be a positive number of seconds' })
  JOB_TIMEOUT: number;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, 3))
  @IsInt({ message: 'MAX_RETRY must be a positive integer' })
  @Min(1, { message: 'MAX_RETRY must be a positive integer' })
  MAX_RETRY: number;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, 7 * 24 * 3600))
  @IsInt({ message: 'RESULT_TTL must be a positive number of seconds' })
  @Min(1, { message: 'RESULT_TTL must be a positive number of seconds' })
  RESULT_TTL: number;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, 15))
  @IsInt({ message: 'RECONCILE_INTERVAL must be a positive number of seconds' })
  @Min(1, { message: 'RECONCILE_INTERVAL must be a positive number of seconds' })
  RECONCILE_INTERVAL: number;

  /**
   * Seconds an uploaded original with no job waits before a worker decodes it whole (uploads are
   * only checked for structure); also the period of that pass.
   */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 30))
  @IsInt({ message: 'VERIFY_DELAY must be a positive number of seconds' })
  @Min(1, { message: 'VERIFY_DELAY must be a positive number of seconds' })
  VERIFY_DELAY: number;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 30 : Number(value)))
  @IsInt({ message: 'SHUTDOWN_GRACE must be a whole number of seconds' })
  @Min(0, { message: 'SHUTDOWN_GRACE must be a whole number of seconds' })
  SHUTDOWN_GRACE: number;

  /**
   * Seconds an API process keeps serving after SIGTERM while its readiness answers 503, so that a
   * load balancer stops sending it requests before it closes.
   */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 5 : Number(value)))
  @IsInt({ message: 'SHUTDOWN_DRAIN must be a whole number of seconds (0: no drain)' })
  @Min(0, { message: 'SHUTDOWN_DRAIN must be a whole number of seconds (0: no drain)' })
  SHUTDOWN_DRAIN: number;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 1 : Number(value)))
  @IsInt({ message: 'PNG_COMPRESSION must be an integer from 0 to 9' })
  @Min(0, { message: 'PNG_COMPRESSION must be an integer from 0 to 9' })
  @Max(9, { message: 'PNG_COMPRESSION must be an integer from 0 to 9' })
  PNG_COMPRESSION: number;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, 1000))
  @IsInt({ message: 'QUOTA_JOBS_IN_PROGRESS must be a positive integer' })
  @Min(1, { message: 'QUOTA_JOBS_IN_PROGRESS must be a positive integer' })
  QUOTA_JOBS_IN_PROGRESS: number;

  @Expose()
  @Transform(({ value }) => positiveInteger(value, 10 * 1024 ** 3))
  @IsInt({ message: 'QUOTA_STORAGE_BYTES must be a whole number of bytes' })
  @Min(0, { message: 'QUOTA_STORAGE_BYTES must be a whole number of bytes' })
  @Max(Number.MAX_SAFE_INTEGER, { message: 'QUOTA_STORAGE_BYTES must be a whole number of bytes' })
  QUOTA_STORAGE_BYTES: number;

  /**
   * Seconds a request for a derivative not made yet waits for its job before answering 202 with the
   * job's URL; fractions allowed, 0 answers at once.
   */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 10 : Number(value)))
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'DERIVATIVE_WAIT must be a number of seconds from 0 to 120' })
  @Min(0, { message: 'DERIVATIVE_WAIT must be a number of seconds from 0 to 120' })
  @Max(120, { message: 'DERIVATIVE_WAIT must be a number of seconds from 0 to 120' })
  DERIVATIVE_WAIT: number;

  /** Seconds of job events kept for clients reconnecting with Last-Event-ID. */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 300))
  @IsInt({ message: 'EVENTS_REPLAY must be a positive number of seconds' })
  @Min(1, { message: 'EVENTS_REPLAY must be a positive number of seconds' })
  EVENTS_REPLAY: number;

  /**
   * Days a deleted image or job is still reported by delta sync (GET /api/sync); a sweep every
   * minute purges older ones, and a cursor from before them must sync again from scratch.
   */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 30))
  @IsInt({ message: 'SYNC_TOMBSTONE_DAYS must be a positive number of days' })
  @Min(1, { message: 'SYNC_TOMBSTONE_DAYS must be a positive number of days' })
  SYNC_TOMBSTONE_DAYS: number;

  /**
   * Seconds an Idempotency-Key is kept after its first request: a retry within them is answered
   * as the first request was; after them the key is free again (docs/api.md, "Idempotent retries").
   */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 24 * 3600))
  @IsInt({ message: 'IDEMPOTENCY_TTL must be a positive number of seconds, at most 30 days (2592000)' })
  @Min(1, { message: 'IDEMPOTENCY_TTL must be a positive number of seconds, at most 30 days (2592000)' })
  @Max(30 * 24 * 3600, { message: 'IDEMPOTENCY_TTL must be a positive number of seconds, at most 30 days (2592000)' })
  IDEMPOTENCY_TTL: number;

  /**
   * Seconds a request in progress holds its Idempotency-Key unless it renews the hold (it does,
   * every third of this, while it runs): how long a key stays "in progress" after its process
   * was killed, before a retry may take it over.
   */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 60))
  @IsInt({ message: 'IDEMPOTENCY_LEASE must be a whole number of seconds from 3 to 3600' })
  @Min(3, { message: 'IDEMPOTENCY_LEASE must be a whole number of seconds from 3 to 3600' })
  @Max(3600, { message: 'IDEMPOTENCY_LEASE must be a whole number of seconds from 3 to 3600' })
  IDEMPOTENCY_LEASE: number;

  /** Lets a job's callback_url be http:// to localhost, 127.0.0.1 or ::1, loopback addresses included: a receiver on this machine. */
  @Expose()
  @Transform(({ value }) => flag(value))
  @IsBoolean({ message: 'ALLOW_HTTP_WEBHOOKS must be true or false' })
  ALLOW_HTTP_WEBHOOKS: boolean;

  /** Lets callback URLs resolve to private, loopback or link-local addresses (no SSRF guard). */
  @Expose()
  @Transform(({ value }) => flag(value))
  @IsBoolean({ message: 'ALLOW_PRIVATE_WEBHOOKS must be true or false' })
  ALLOW_PRIVATE_WEBHOOKS: boolean;

  /** Hours after a job's end during which a webhook that was not answered with a 2xx is tried again. */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 24 : Number(value)))
  @IsInt({ message: 'WEBHOOK_RETRY_HOURS must be a whole number of hours (0: no retries)' })
  @Min(0, { message: 'WEBHOOK_RETRY_HOURS must be a whole number of hours (0: no retries)' })
  @Max(24 * 30, { message: 'WEBHOOK_RETRY_HOURS must be a whole number of hours (0: no retries)' })
  WEBHOOK_RETRY_HOURS: number;

  /** The first retry's delay; each later one doubles it. */
  @Expose()
  @Transform(({ value }) => positiveInteger(value, 10_000))
  @IsInt({ message: 'WEBHOOK_RETRY_BASE_MS must be a positive number of milliseconds' })
  @Min(1, { message: 'WEBHOOK_RETRY_BASE_MS must be a positive number of milliseconds' })
  WEBHOOK_RETRY_BASE_MS: number;

  /** Seals the stored webhook secrets, so that a copy of the database alone cannot sign webhooks. */
  @Expose()
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'WEBHOOK_SECRET_KEY must be at least 32 characters long' })
  WEBHOOK_SECRET_KEY?: string;

  /** Origins allowed to call the API from a browser (CORS); none by default. */
  @Expose()
  @Transform(({ value }) =>
    value === undefined || String(value).trim() === ''
      ? []
      : String(value)
          .split(',')
          .map((origin) => origin.trim().replace(/\/$/, ''))
          .filter((origin) => origin !== ''),
  )
  @Matches(/^https?:\/\/[^/\s?#]+$/, {
    each: true,
    message: 'CORS_ORIGINS must be a comma-separated list of origins such as https://app.example.com (scheme, host and port only)',
  })
  CORS_ORIGINS: string[];

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 1024 : Number(value)))
  @IsInt({ message: 'HISTOGRAM_CACHE_MB must be a whole number of megabytes (0 turns the cache off)' })
  @Min(0, { message: 'HISTOGRAM_CACHE_MB must be a whole number of megabytes (0 turns the cache off)' })
  HISTOGRAM_CACHE_MB: number;

  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 10000 : Number(value)))
  @IsInt({ message: 'HISTOGRAM_SNAPSHOT_CHANGES must be a whole number of histograms (0: workers write no snapshot)' })
  @Min(0, { message: 'HISTOGRAM_SNAPSHOT_CHANGES must be a whole number of histograms (0: workers write no snapshot)' })
  HISTOGRAM_SNAPSHOT_CHANGES: number;

  @Expose()
  @Transform(({ value }) => rateLimit(value, 10))
  @IsInt({ message: 'AUTH_RATE_LIMIT must be a whole number of requests a minute (0 turns the limit off)' })
  @Min(0, { message: 'AUTH_RATE_LIMIT must be a whole number of requests a minute (0 turns the limit off)' })
  AUTH_RATE_LIMIT: number;

  @Expose()
  @Transform(({ value }) => rateLimit(value, 600))
  @IsInt({ message: 'JOB_RATE_LIMIT must be a whole number of jobs a minute (0 turns the limit off)' })
  @Min(0, { message: 'JOB_RATE_LIMIT must be a whole number of jobs a minute (0 turns the limit off)' })
  JOB_RATE_LIMIT: number;

  @Expose()
  @Transform(({ value }) => rateLimit(value, 120))
  @IsInt({ message: 'UPLOAD_RATE_LIMIT must be a whole number of uploads a minute (0 turns the limit off)' })
  @Min(0, { message: 'UPLOAD_RATE_LIMIT must be a whole number of uploads a minute (0 turns the limit off)' })
  UPLOAD_RATE_LIMIT: number;

  /** Set: GET /metrics (and each worker's metrics port) answer only with this token. */
  @Expose()
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'METRICS_TOKEN must be at least 16 characters long' })
  METRICS_TOKEN?: string;

  /** The port a worker process serves its own /metrics on; 0 turns it off. */
  @Expose()
  @Transform(({ value }) => (value === undefined || value === '' ? 9464 : Number(value)))
  @IsInt({ message: 'WORKER_METRICS_PORT must be an integer between 0 (off) and 65535' })
  @Min(0, { message: 'WORKER_METRICS_PORT must be an integer between 0 (off) and 65535' })
  @Max(65535, { message: 'WORKER_METRICS_PORT must be an integer between 0 (off) and 65535' })
  WORKER_METRICS_PORT: number;

  /**
   * The key that signs public derivative URLs (`/r/...`), at least 32 characters. Unset: the
   * installation's own random key, made by its migration and kept in the database, so that every
   * node checks every URL alike.
   */
  @Expose()
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'URL_SIGNING_KEY must be at least 32 characters long' })
  URL_SIGNING_KEY?: string;

  /** Keys that signed URLs before a rotation, comma-separated: URLs they signed are still accepted. */
  @Expose()
  @Transform(({ value }) => keyList(value))
  @IsString({ each: true })
  @MinLength(32, { each: true, message: 'URL_SIGNING_KEY_PREVIOUS must list keys of at least 32 characters, comma-separated' })
  URL_SIGNING_KEY_PREVIOUS: string[];

  /**
   * Public URLs may name presets only, never free-form steps, so that no URL, however it was
   * obtained, makes the server compute work an admin did not define. On unless set to false.
   */
  @Expose()
  @Transform(({ value }) => (value === undefined || String(value).trim() === '' ? true : flag(value)))
  @IsBoolean({ message: 'STRICT_PRESETS must be true or false' })
  STRICT_PRESETS: boolean;

  /** Express's `trust proxy`: false, true, a number of hops, or a list of addresses and subnets. */
  @Expose()
  @Transform(({ value }) => trustProxy(value))
  @ValidateBy({
    name: 'trustProxy',
    validator: {
      validate: (value: unknown) => value !== INVALID,
      defaultMessage: () =>
        'TRUST_PROXY must be false, true, a number of proxy hops, or a comma-separated list of addresses or subnets ' +
        '(10.0.0.1, 10.0.0.0/8, loopback, linklocal, uniquelocal)',
    },
  })
  TRUST_PROXY: boolean | number | string[];
}

/** Reads a variable that must be a positive integer, with its default when unset. */
function positiveInteger(value: unknown, fallback: number): number {
  return value === undefined || value === '' ? fallback : Number(value);
}

/** A yes/no variable, off when unset; anything but true/false/1/0 is left as is for validation to name. */
function flag(value: unknown): unknown {
  const text = value === undefined ? '' : String(value).trim().toLowerCase();
  if (text === '' || text === 'false' || text === '0') return false;
  if (text === 'true' || text === '1') return true;
  return value;
}

/** A comma-separated list, blanks dropped. */
function keyList(value: unknown): string[] {
  return value === undefined
    ? []
    : String(value)
        .split(',')
        .map((key) => key.trim())
        .filter((key) => key !== '');
}

/** A rate limit, in requests a minute: 0 turns it off. */
function rateLimit(value: unknown, fallback: number): number {
  return value === undefined || value === '' ? fallback : /^\s*\d+\s*$/.test(String(value)) ? Number(value) : NaN;
}

const INVALID = Symbol('invalid');
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** TRUST_PROXY as Express takes it; an unreadable value becomes INVALID, which validation names. */
function trustProxy(value: unknown): boolean | number | string[] | typeof INVALID {
  const text = value === undefined ? '' : String(value).trim();
  if (text === '' || /^false$/i.test(text)) return false;
  if (/^true$/i.test(text)) return true;
  if (/^\d+$/.test(text)) return Number(text);
  const entries = text.split(',').map((entry) => entry.trim());
  return entries.every(isProxyAddress) ? entries : INVALID;
}

function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const [address, bits, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  if (isIP(bits) === 4) return version === 4; // a netmask, as proxy-addr accepts
  return /^\d+$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
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
