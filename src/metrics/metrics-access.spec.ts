import { metricsAccessAllowed } from './metrics-access';

const TOKEN = 'metrics-token-0123456789';

describe('metricsAccessAllowed', () => {
  it('lets every scrape in when no METRICS_TOKEN is set', () => {
    expect(metricsAccessAllowed(undefined, undefined, undefined)).toBe(true);
    expect(metricsAccessAllowed(undefined, 'Bearer anything', 'anything')).toBe(true);
  });

  it('takes the token as a bearer header or as ?token=', () => {
    expect(metricsAccessAllowed(TOKEN, `Bearer ${TOKEN}`, undefined)).toBe(true);
    expect(metricsAccessAllowed(TOKEN, `bearer  ${TOKEN}`, undefined)).toBe(true);
    expect(metricsAccessAllowed(TOKEN, undefined, TOKEN)).toBe(true);
  });

  it('refuses a missing, wrong, malformed or repeated token', () => {
    expect(metricsAccessAllowed(TOKEN, undefined, undefined)).toBe(false);
    expect(metricsAccessAllowed(TOKEN, 'Bearer wrong-token-0123456789', undefined)).toBe(false);
    expect(metricsAccessAllowed(TOKEN, TOKEN, undefined)).toBe(false);
    expect(metricsAccessAllowed(TOKEN, undefined, 'wrong')).toBe(false);
    expect(metricsAccessAllowed(TOKEN, undefined, [TOKEN, TOKEN])).toBe(false);
    expect(metricsAccessAllowed(TOKEN, undefined, '')).toBe(false);
  });

  it('does not let a wrong header fall back on a right query token', () => {
    expect(metricsAccessAllowed(TOKEN, 'Bearer wrong-token-0123456789', TOKEN)).toBe(false);
  });
});
