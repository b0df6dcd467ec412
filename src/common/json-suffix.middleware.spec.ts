import type { Request, Response } from 'express';
import { stripJsonSuffix } from './json-suffix.middleware';

const routed = (url: string) => {
  const request = { url } as Request;
  const next = jest.fn();
  stripJsonSuffix(request, {} as Response, next);
  expect(next).toHaveBeenCalledTimes(1);
  return request.url;
};

describe('stripJsonSuffix', () => {
  it("routes the seed's .json paths to the same handlers", () => {
    expect(routed('/api/users.json')).toBe('/api/users');
    expect(routed('/api/users/7.json')).toBe('/api/users/7');
    expect(routed('/api/images.json?n=all&days=today')).toBe('/api/images?n=all&days=today');
  });

  it('leaves other paths alone', () => {
    expect(routed('/api/users/7')).toBe('/api/users/7');
    expect(routed('/api/docs-json')).toBe('/api/docs-json');
    expect(routed('/elsewhere/file.json')).toBe('/elsewhere/file.json');
    expect(routed('/api/images?name=x.json')).toBe('/api/images?name=x.json');
  });
});
