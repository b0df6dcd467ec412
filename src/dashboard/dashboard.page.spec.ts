import type { JobSummary } from './dashboard.repository';
import { escapeHtml, renderDashboard, renderForbidden, renderSignIn } from './dashboard.page';
import type { DashboardView, QueueOverview } from './dashboard.service';

const NO_JOBS = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };

function queue(name: QueueOverview['name'], overrides: Partial<QueueOverview> = {}): QueueOverview {
  return {
    name,
    entries: { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 },
    entriesError: null,
    jobs: NO_JOBS,
    paused: false,
    pendingByLane: { interactive: 0, bulk: 0 },
    dispatched: 0,
    concurrencyCap: null,
    ...overrides,
  };
}

function job(overrides: Partial<JobSummary>): JobSummary {
  return {
    id: 7,
    userId: 3,
    username: 'ada',
    jobType: ['process', 'grayscale'],
    status: 'failed',
    lane: 'interactive',
    error: 'Source image 4 was deleted',
    progress: 0,
    attempts: 1,
    maxAttempts: 3,
    createdAt: new Date('2026-01-02T03:04:05Z'),
    startedAt: null,
    finishedAt: new Date('2026-01-02T03:04:06Z'),
    ...overrides,
  };
}

function view(overrides: Partial<DashboardView> = {}): DashboardView {
  return {
    viewer: { id: 1, username: 'root' },
    queues: [queue('process'), queue('query'), queue('search')],
    ended: { jobs: [], total: 0 },
    inProgress: { jobs: [], total: 0 },
    ...overrides,
  };
}

describe('the dashboard page', () => {
  it('escapes the five characters that matter in HTML text and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    expect(escapeHtml(42)).toBe('42');
  });

  it('shows each queue’s entries and jobs, and says so when a queue backend did not answer', () => {
    const html = renderDashboard(
      view({
        queues: [
          queue('process', { entries: { waiting: 5, active: 2, delayed: 1, failed: 3, completed: 9 }, jobs: { ...NO_JOBS, failed: 4 } }),
          queue('query', { entries: null, entriesError: 'connect ECONNREFUSED 127.0.0.1:6379' }),
          queue('search'),
        ],
      }),
      'csrf-token-value',
    );
    expect(html).toContain('<td class="number" data-count="entries.waiting">5</td>');
    expect(html).toContain('<td class="number" data-count="jobs.failed">4</td>');
    expect(html).toContain('Queue unavailable: connect ECONNREFUSED 127.0.0.1:6379');
    expect(html).toContain('<meta name="csrf-token" content="csrf-token-value">');
    expect(html).toContain('id="sign-out"');
  });

  it('shows whether each queue is paused, its backlog by lane and its cap, with the button that flips the pause', () => {
    const html = renderDashboard(
      view({
        queues: [
          queue('process', { paused: true, pendingByLane: { interactive: 3, bulk: 40 }, dispatched: 4 }),
          queue('query', { concurrencyCap: 1 }),
          queue('search'),
        ],
      }),
      't',
    );
    expect(html).toContain(
      '<tr data-queue="process"><th scope="row">process</th><td data-paused="true"><strong class="paused">Paused</strong> ' +
        '<button type="button" data-action="/admin/queues/process/resume">Resume</button></td>' +
        '<td class="number" data-count="pending.interactive">3</td><td class="number" data-count="pending.bulk">40</td>' +
        '<td class="number" data-count="dispatched">4</td>',
    );
    expect(html).toContain(
      '<td data-paused="false">Running <span class="muted">(at most 1 at once)</span> ' +
        '<button type="button" data-action="/admin/queues/query/pause">Pause</button></td>',
    );
    expect(html).toContain('<button type="button" data-action="/admin/queues/search/pause">Pause</button>');
  });

  it('lists ended jobs with Retry and jobs in progress with Cancel, escaping every value', () => {
    const html = renderDashboard(
      view({
        viewer: { id: 1, username: '<b>root</b>' },
        ended: { jobs: [job({ error: '<script>alert(1)</script>', username: 'a"b' })], total: 120 },
        inProgress: {
          jobs: [
            job({
              id: 8,
              status: 'running',
              lane: 'bulk',
              error: null,
              progress: 50,
              startedAt: new Date('2026-01-02T03:04:05Z'),
              finishedAt: null,
            }),
          ],
          total: 1,
        },
      }),
      null,
    );
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('a&quot;b');
    expect(html).toContain('Signed in as &lt;b&gt;root&lt;/b&gt;');
    expect(html).not.toMatch(/<script>|<b>/);
    expect(html).toContain('<button type="button" data-action="/admin/queues/jobs/7/retry">Retry</button>');
    expect(html).toContain('<button type="button" data-action="/admin/queues/jobs/8/cancel">Cancel</button>');
    expect(html).toContain('<td>process, grayscale</td><td>bulk</td><td>running</td>');
    expect(html).toContain('The 1 most recent of 120.');
    expect(html).toContain('<time datetime="2026-01-02T03:04:06.000Z">2026-01-02 03:04:06</time>');
    // Reached with a bearer token: no cookie session, so no token and nothing to sign out of.
    expect(html).not.toContain('csrf-token');
    expect(html).not.toContain('id="sign-out"');
  });

  it('loads its only script from this origin', () => {
    for (const html of [renderDashboard(view(), 't'), renderSignIn('x'), renderForbidden('y', 't')]) {
      expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="/admin/queues/dashboard.js" defer>']);
    }
  });

  it('asks for an admin’s sign-in, with the reason escaped', () => {
    const html = renderSignIn('Missing <credentials>');
    expect(html).toContain('<form id="sign-in">');
    expect(html).toContain('Missing &lt;credentials&gt;');
    expect(renderForbidden('Only an admin may use the queue dashboard', 'tok')).toContain('id="sign-out"');
    expect(renderForbidden('Only an admin may use the queue dashboard', null)).not.toContain('id="sign-out"');
  });
});
