/**
 * The dashboard's only script, served from this origin (the Content-Security-Policy allows no
 * inline script): the sign-in form, and the buttons, each a POST carrying the page's CSRF token.
 * Every answer's error is shown as text, never as HTML.
 */
export const DASHBOARD_SCRIPT = `'use strict';
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
  const status = document.getElementById('status');

  async function post(url, body) {
    const headers = { 'X-CSRF-Token': csrf };
    const init = { method: 'POST', credentials: 'same-origin', headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(url, init);
      if (response.ok) return true;
      const answer = await response.json().catch(() => ({}));
      status.textContent = answer.error ?? response.status + ' ' + response.statusText;
    } catch (error) {
      status.textContent = 'The server did not answer: ' + error.message;
    }
    return false;
  }

  for (const button of document.querySelectorAll('button[data-action]')) {
    button.addEventListener('click', async () => {
      button.disabled = true;
      if (await post(button.dataset.action)) location.reload();
      else button.disabled = false;
    });
  }

  const form = document.getElementById('sign-in');
  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const login = form.elements.login.value.trim();
    const credentials = { [login.includes('@') ? 'email' : 'username']: login, password: form.elements.password.value, cookie: true };
    if (await post('/api/sessions.json', credentials)) location.reload();
  });
})();
`;
