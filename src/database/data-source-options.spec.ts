import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dataSourceOptions } from './data-source-options';

const SRC = resolve(__dirname, '..');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('dataSourceOptions', () => {
  it('finds the entities by their file names under src/, in the extension of the running code', () => {
    expect(dataSourceOptions('postgres://localhost/darkroom').entities).toEqual([join(SRC, '**', '*.entity.ts')]);
  });

  it('finds every entity: each @Entity class is declared in a *.entity.ts file', () => {
    const declaring = sourceFiles(SRC).filter((file) => /^@Entity\(/m.test(readFileSync(file, 'utf8')));
    expect(declaring.length).toBeGreaterThanOrEqual(12);
    expect(declaring.filter((file) => !file.endsWith('.entity.ts'))).toEqual([]);
  });
});
