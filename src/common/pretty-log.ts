/** A log line as pino writes it in JSON: level label, ISO time, message, and the line's fields. */
export type LogRecord = Record<string, unknown>;

/**
 * Fields a person at the terminal does not need spelled out: the message already says them (a
 * job's type, attempt and outcome; a step's operation and time), or the compact tail below does.
 * JSON lines keep them all, for queries.
 */
const SAID_ELSEWHERE = new Set([
  'level',
  'time',
  'pid',
  'hostname',
  'msg',
  'context',
  'req_id',
  'req',
  'res',
  'responseTime',
  'user_id',
  'event',
  'job_id',
  'job_type',
  'attempt',
  'outcome',
  'duration_ms',
  'step',
  'operation',
  'reused',
  'phase',
  'err',
  'stack',
]);

const LEVEL_COLOURS: Record<string, string> = { fatal: '35', error: '31', warn: '33', info: '32', debug: '34', trace: '90' };

/**
 * One log line for a person at the terminal: `HH:MM:ss.mmm LEVEL [context] message`, then the
 * request, job and step it was written in, in a few characters. A request is one line:
 * `GET /api/jobs.json 201 12 ms · user 3 · req 1f0c2a9e`. Only an error's stack takes more lines.
 */
export function prettyLine(record: LogRecord, colours: boolean): string {
  const level = String(record.level ?? 'info');
  const paint = (code: string, text: string) => (colours ? `\x1b[${code}m${text}\x1b[39m` : text);
  const head = `${clock(record.time)} ${paint(LEVEL_COLOURS[level] ?? '39', level.toUpperCase().padEnd(5))}`;
  const context = typeof record.context === 'string' ? `[${record.context}] ` : '';
  const message = isRequestLine(record) ? requestSummary(record) : String(record.msg ?? '');
  const tail = [...compactContext(record, message), ...otherFields(record)].join(' · ');
  const errorText = errorDetails(record);
  return `${head} ${context}${message}${tail ? ` · ${tail}` : ''}${errorText ? `\n${errorText}` : ''}`;
}

function isRequestLine(record: LogRecord): record is LogRecord & { req: { method: string; url: string }; res: { status: number } } {
  const { req, res } = record as { req?: { method?: unknown }; res?: { status?: unknown } };
  return typeof req?.method === 'string' && typeof res?.status === 'number';
}

/** `GET /api/images/1/file 200 21 ms`, and `aborted` when the client left before the answer ended. */
function requestSummary(record: LogRecord & { req: { method: string; url: string }; res: { status: number } }): string {
  const aborted = record.msg === 'request aborted' ? ' aborted' : '';
  return `${record.req.method} ${record.req.url} ${record.res.status} ${String(record.responseTime)} ms${aborted}`;
}

/** The user, request, job and step of the line, each unless its message names it already. */
function compactContext(record: LogRecord, message: string): string[] {
  const parts: string[] = [];
  if (typeof record.user_id === 'number') parts.push(`user ${record.user_id}`);
  if (typeof record.req_id === 'string') parts.push(`req ${record.req_id.length === 36 ? record.req_id.slice(0, 8) : record.req_id}`);
  if (record.job_id !== undefined && !message.includes(`Job ${String(record.job_id)}`)) parts.push(`job ${String(record.job_id)}`);
  if (typeof record.step === 'number' && !message.includes(`Step ${record.step + 1}`)) {
    parts.push(`step ${record.step + 1}${typeof record.operation === 'string' ? ` (${record.operation})` : ''}`);
  }
  return parts;
}

/** Fields no message says, should a line carry any: `key=value`, on the same line. */
function otherFields(record: LogRecord): string[] {
  return Object.entries(record)
    .filter(([key, value]) => !SAID_ELSEWHERE.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
}

/** An error's stack (or its message, if it has none), indented under its line. */
function errorDetails(record: LogRecord): string {
  const err = record.err as { stack?: unknown; message?: unknown } | undefined;
  const text = typeof err?.stack === 'string' ? err.stack : typeof record.stack === 'string' ? record.stack : undefined;
  if (!text || isRequestLine(record)) return '';
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/** Local wall-clock time to the millisecond: a person reads the terminal in their own time zone. */
function clock(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
