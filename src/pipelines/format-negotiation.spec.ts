import { negotiateFormat } from './format-negotiation';

describe('negotiateFormat', () => {
  it.each([
    ['image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'avif'],
    ['image/webp,*/*', 'webp'],
    ['image/webp;q=0.9, image/avif;q=0.9', 'avif'],
    ['image/webp;q=0.9, image/avif;q=0.5', 'webp'],
    ['image/avif;q=0, image/webp', 'webp'],
    ['image/avif;q=0, image/webp;q=0', 'jpeg'],
    ['image/webp;q=0.5, image/jpeg', 'jpeg'],
    ['image/webp;q=0.5, image/*', 'jpeg'],
    ['*/*', 'jpeg'],
    ['image/*', 'jpeg'],
    ['image/png', 'jpeg'],
    ['', 'jpeg'],
    [undefined, 'jpeg'],
    ['IMAGE/WEBP', 'webp'],
    ['image/webp ; q=0.7 , text/html', 'webp'],
    ['image/avif;q=abc, image/webp;q=0.2', 'webp'],
    ['garbage, ;;, /, image/', 'jpeg'],
  ])('chooses from %j: %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });
});
