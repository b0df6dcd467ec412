import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AdvisoryLock } from './advisory-locks';

const ROOT = join(__dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('AdvisoryLock', () => {
  it('gives every lock its own id', () => {
    const ids = Object.values(AdvisoryLock).filter((value) => typeof value === 'number');
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is where every advisory lock of src/ and migrations/ takes its id: no statement names one by number', () => {
    const files = [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'migrations'))].filter(
      (file) => file !== join(__dirname, 'advisory-locks.ts'),
    );
    const takers = files.filter((file) => /pg_(try_)?advisory_(xact_)?(un)?lock/.test(readFileSync(file, 'utf8')));
    expect(takers.length).toBeGreaterThan(0);
    for (const file of takers) {
      const text = readFileSync(file, 'utf8');
      expect({ file, literal: /pg_(try_)?advisory_(xact_)?(un)?lock\(\s*\d/.test(text) }).toEqual({ file, literal: false });
      expect({ file, named: text.includes('AdvisoryLock.') }).toEqual({ file, named: true });
    }
  });
});
