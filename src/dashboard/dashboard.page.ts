import type { JobState } from '../pipelines/job-states';
import type { QueueEntryCounts } from '../job-runs/job-queue';
import type { JobSummary } from './dashboard.repository';
import type { DashboardView } from './dashboard.service';

export const PAGE_PATH = '/admin/queues';
export const SCRIPT_PATH = `${PAGE_PATH}/dashboard.js`;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML, in content and in quoted attributes alike: every value from the database goes through it. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]);
}

const ENTRY_STATES: (keyof QueueEntryCounts)[] = ['waiting', 'active', 'delayed', 'failed', 'completed'];
const JOB_COLUMNS: JobState[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];

/** Inline styles are allowed by the Content-Security-Policy (style-src 'unsafe-inline'); scripts come from SCRIPT_PATH only. */
const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2125; background: #fafafa; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
h1 { font-size: 1.4rem; margin: 0 auto 0 0; }
h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #eef1f4; }
.paused { color: #9a6700; }
.error { white-space: pre-wrap; max-width: 48rem; color: #a40e26; }
.muted { color: #656d76; }
#status:not(:empty) { margin: 1rem 0; padding: .5rem .8rem; background: #fff1f0; border: 1px solid #ffa39e; }
button { cursor: pointer; }
form label { display: block; margin: .6rem 0 .2rem; }
`;

function layout(title: string, body: string, csrfToken: string | null): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${csrfToken ? `<meta name="csrf-token" content="${escapeHtml(csrfToken)}">` : ''}
<title>${escapeHtml(title)} · Darkroom</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
<script src="${SCRIPT_PATH}" defer></script>
</head>
<body>
${body}
<p id="status" role="status"></p>
</body>
</html>
`;
}

const time = (date: Date | null) =>
  date
    ? `<time datetime="${escapeHtml(date.toISOString())}">${escapeHtml(date.toISOString().slice(0, 19).replace('T', ' '))}</time>`
    : '<span class="muted">—</span>';
const owner = (job: JobSummary) => `${escapeHtml(job.username)} <span class="muted">#${escapeHtml(job.userId)}</span>`;
const sequence = (job: JobSummary) => escapeHtml(job.jobType.join(', '));
const button = (label: string, job: JobSummary, action: string) =>
  `<button type="button" data-action="${escapeHtml(`${PAGE_PATH}/jobs/${job.id}/${action}`)}">${escapeHtml(label)}</button>`;

const pauseButton = (queue: DashboardView['queues'][number]) => {
  const action = queue.paused ? 'resume' : 'pause';
  return `<button type="button" data-action="${escapeHtml(`${PAGE_PATH}/${queue.name}/${action}`)}">${queue.paused ? 'Resume' : 'Pause'}</button>`;
};

/** Whether the queue starts jobs, and its backlog: pending (no queue entry yet) by lane, and dispatched. */
function stateCells(queue: DashboardView['queues'][number]): string {
  const cap = queue.concurrencyCap === null ? '' : ` <span class="muted">(at most ${escapeHtml(queue.concurrencyCap)} at once)</span>`;
  const state = queue.paused ? '<strong class="paused">Paused</strong>' : 'Running';
  const counts = [
    ['pending.interactive', queue.pendingByLane.interactive],
    ['pending.bulk', queue.pendingByLane.bulk],
    ['dispatched', queue.dispatched],
  ].map(([name, count]) => `<td class="number" data-count="${name}">${escapeHtml(count)}</td>`);
  return `<td data-paused="${queue.paused}">${state}${cap} ${pauseButton(queue)}</td>${counts.join('')}`;
}

function queueRow(queue: DashboardView['queues'][number]): string {
  const entries = queue.entries
    ? ENTRY_STATES.map((state) => `<td class="number" data-count="entries.${state}">${escapeHtml(queue.entries![state])}</td>`).join('')
    : `<td colspan="${ENTRY_STATES.length}" class="error">Queue unavailable: ${escapeHtml(queue.entriesError)}</td>`;
  const jobs = JOB_COLUMNS.map((state) => `<td class="number" data-count="jobs.${state}">${escapeHtml(queue.jobs[state])}</td>`).join('');
  return `<tr data-queue="${escapeHtml(queue.name)}"><th scope="row">${escapeHtml(queue.name)}</th>${stateCells(queue)}${entries}${jobs}</tr>`;
}

function shown(list: { jobs: JobSummary[]; total: number }): string {
  return list.total > list.jobs.length ? `<p class="muted">The ${list.jobs.length} most recent of ${list.total}.</p>` : '';
}

function endedTable(list: DashboardView['ended']): string {
  if (list.jobs.length === 0) return '<p class="muted">None.</p>';
  const rows = list.jobs.map(
    (job) => `<tr data-job="${job.id}">
<td class="number">${escapeHtml(job.id)}</td><td>${owner(job)}</td><td>${sequence(job)}</td><td>${escapeHtml(job.status)}</td>
<td class="error">${job.error === null ? '<span class="muted">—</span>' : escapeHtml(job.error)}</td>
<td class="number">${escapeHtml(job.attempts)} of ${escapeHtml(job.maxAttempts)}</td><td>${time(job.finishedAt)}</td>
<td>${button('Retry', job, 'retry')}</td></tr>`,
  );
  return `${shown(list)}<table id="ended-jobs">
<thead><tr><th>Job</th><th>User</th><th>Sequence</th><th>Status</th><th>Error</th><th>Attempts</th><th>Ended</th><th></th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

function inProgressTable(list: DashboardView['inProgress']): string {
  if (list.jobs.length === 0) return '<p class="muted">None.</p>';
  const rows = list.jobs.map(
    (job) => `<tr data-job="${job.id}">
<td class="number">${escapeHtml(job.id)}</td><td>${owner(job)}</td><td>${sequence(job)}</td><td>${escapeHtml(job.lane)}</td><td>${escapeHtml(job.status)}</td>
<td class="number">${escapeHtml(job.progress)} %</td><td class="number">${escapeHtml(job.attempts)} of ${escapeHtml(job.maxAttempts)}</td>
<td>${time(job.createdAt)}</td><td>${time(job.startedAt)}</td><td>${button('Cancel', job, 'cancel')}</td></tr>`,
  );
  return `${shown(list)}<table id="jobs-in-progress">
<thead><tr><th>Job</th><th>User</th><th>Sequence</th><th>Lane</th><th>Status</th><th>Progress</th><th>Attempts</th><th>Created</th><th>Started</th><th></th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

function signOutButton(): string {
  return `<button type="button" id="sign-out" data-action="${PAGE_PATH}/sign-out">Sign out</button>`;
}

export function renderDashboard(view: DashboardView, csrfToken: string | null): string {
  const who = view.viewer.username ?? (view.viewer.id === null ? 'ADMIN_TOKEN' : `user #${view.viewer.id}`);
  const body = `<header><h1>Queues</h1><span class="muted">Signed in as ${escapeHtml(who)}</span>
<a href="${PAGE_PATH}">Refresh</a>${csrfToken ? signOutButton() : ''}</header>
<h2>Counts</h2>
<table id="queue-counts">
<thead>
<tr><th rowspan="2">Queue</th><th rowspan="2">State</th><th colspan="3">Queued jobs (database)</th><th colspan="${ENTRY_STATES.length}">Queue entries (BullMQ)</th><th colspan="${JOB_COLUMNS.length}">Jobs (database)</th></tr>
<tr><th>pending, interactive</th><th>pending, bulk</th><th>dispatched</th>${ENTRY_STATES.map((state) => `<th>${state}</th>`).join('')}${JOB_COLUMNS.map((state) => `<th>${state}</th>`).join('')}</tr>
</thead>
<tbody>${view.queues.map(queueRow).join('\n')}</tbody>
</table>
<p class="muted">A queued job is pending until the dispatcher gives it a queue entry, in its user's and lane's turn; it is then dispatched until a worker starts it.
A paused queue takes new jobs and starts none; its running jobs finish.
Queue entries of ended deliveries stay for RESULT_TTL; the jobs table keeps every job. A retry is a new entry.</p>
<h2>Failed and cancelled jobs</h2>
${endedTable(view.ended)}
<h2>Queued and running jobs</h2>
${inProgressTable(view.inProgress)}`;
  return layout('Queues', body, csrfToken);
}

/** What /admin/queues shows without a session: a form that signs in through POST /api/sessions.json with "cookie": true. */
export function renderSignIn(message: string): string {
  const body = `<h1>Queues</h1>
<p>${escapeHtml(message)}</p>
<p>Sign in with an admin account. (With a bearer token, <code>curl -H "Authorization: Bearer …" ${PAGE_PATH}</code> shows this page too.)</p>
<form id="sign-in">
<label for="login">Username or email</label><input id="login" name="login" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p>
</form>`;
  return layout('Sign in', body, null);
}

export function renderForbidden(message: string, csrfToken: string | null): string {
  const body = `<h1>Queues</h1>
<p>${escapeHtml(message)}. Sign in with an admin account instead.</p>
${csrfToken ? `<p>${signOutButton()}</p>` : ''}`;
  return layout('Admins only', body, csrfToken);
}
