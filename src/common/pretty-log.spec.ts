import { prettyLine } from './pretty-log';

const TIME = '2026-12-06T10:09:48.341Z';

describe('prettyLine', () => {
  it('writes a request as one line: method, URL, status, time, user and a short request id', () => {
    const line = prettyLine(
      {
        level: 'info',
        time: TIME,
        pid: 7,
        req_id: '1f0c2a9e-5b7d-4c1e-9a3f-0123456789ab',
        user_id: 3,
        req: { method: 'POST', url: '/api/jobs.json' },
        res: { status: 201 },
        responseTime: 12,
        msg: 'request completed',
      },
      false,
    );
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.341 INFO {2}POST \/api\/jobs\.json 201 12 ms · user 3 · req 1f0c2a9e$/);
  });

  it("says a request was aborted, and keeps a caller's own request id whole", () => {
    const line = prettyLine(
      {
        level: 'info',
        time: TIME,
        req_id: 'caller-1',
        req: { method: 'GET', url: '/x' },
        res: { status: 200 },
        responseTime: 3,
        msg: 'request aborted',
      },
      false,
    );
    expect(line).toMatch(/ GET \/x 200 3 ms aborted · req caller-1$/);
  });

  it('writes a job event as one line, naming the job only where the message does not', () => {
    const started = prettyLine(
      {
        level: 'info',
        time: TIME,
        context: 'JobRunner',
        job_id: 5,
        event: 'job_started',
        job_type: 'process,grayscale',
        attempt: 1,
        msg: 'Job 5 started: process, grayscale, attempt 1 of 3',
      },
      false,
    );
    expect(started).toMatch(/ INFO {2}\[JobRunner\] Job 5 started: process, grayscale, attempt 1 of 3$/);
    const step = prettyLine({ level: 'warn', time: TIME, job_id: 5, step: 1, operation: 'blur', msg: 'slow disk' }, false);
    expect(step).toMatch(/ WARN {2}slow disk · job 5 · step 2 \(blur\)$/);
  });

  it("keeps fields no message says on the line, and puts an error's stack under it", () => {
    const error = new Error('boom');
    const line = prettyLine(
      { level: 'error', time: TIME, msg: 'failed', err: { message: 'boom', stack: error.stack }, queue: 'process' },
      false,
    );
    const [first, ...rest] = line.split('\n');
    expect(first).toMatch(/ ERROR failed · queue=process$/);
    expect(rest[0]).toBe('    Error: boom');
    expect(rest.length).toBeGreaterThan(1);
  });

  it('colours the level only when asked', () => {
    expect(prettyLine({ level: 'info', time: TIME, msg: 'x' }, true)).toContain('\x1b[32mINFO ');
    expect(prettyLine({ level: 'info', time: TIME, msg: 'x' }, false)).not.toContain('\x1b');
  });
});
