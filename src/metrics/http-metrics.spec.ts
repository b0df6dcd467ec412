import { routeLabel, UNMATCHED_ROUTE } from './http-metrics';

describe('routeLabel', () => {
  it("is the matched route's pattern, under its router's mount point", () => {
    expect(routeLabel({ baseUrl: '', route: { path: '/api/images/:id' } })).toBe('/api/images/:id');
    expect(routeLabel({ baseUrl: '/admin', route: { path: '/queues' } })).toBe('/admin/queues');
  });

  it('is one label for every request no route matched, whatever its URL', () => {
    expect(routeLabel({ baseUrl: '' })).toBe(UNMATCHED_ROUTE);
    expect(routeLabel({ baseUrl: '', route: { path: /regexp/ } })).toBe(UNMATCHED_ROUTE);
  });
});
