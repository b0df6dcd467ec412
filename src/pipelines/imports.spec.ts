import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

/*
 * The API validates jobs with src/pipelines alone: it must not load the worker's code, nor sharp,
 * whose native decoders may crash (uploads get a structural check that decodes no pixel,
 * src/images/image-structure.ts; the worker decodes them). The worker, in turn, must not pull in
 * the API's HTTP resources.
 */

const SRC = resolve(__dirname, '..');
const WORKER = join(SRC, 'worker');
const HTTP_RESOURCES = ['images', 'users', 'jobs', 'job-types', 'image-types', 'auth'];

interface Import {
  specifier: string;
  typeOnly: boolean;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every module a file names: import and export declarations, require() and import(). */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const typeOnly = ts.isImportDeclaration(node) ? Boolean(node.importClause?.isTypeOnly) : node.isTypeOnly;
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteral(node.arguments[0])) {
      const callsRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if (callsRequire || node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        found.push({ specifier: node.arguments[0].text, typeOnly: false });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file a relative specifier names, without its extension; null for a package. */
function target(file: string, specifier: string): string | null {
  return specifier.startsWith('.') ? resolve(dirname(file), specifier) : null;
}

const isWorkerCode = (path: string) => path.startsWith(WORKER + sep) || path === join(SRC, 'worker.main');
const isSharp = (specifier: string) => specifier === 'sharp' || specifier.startsWith('sharp/');

describe('imports', () => {
  const files = sourceFiles(SRC);

  it('keeps the worker and sharp out of everything the API loads', () => {
    const offending = files
      .filter((file) => !isWorkerCode(file.replace(/\.ts$/, '')))
      .flatMap((file) =>
        importsOf(file)
          .filter(({ specifier, typeOnly }) => {
            const path = target(file, specifier);
            return (path !== null && isWorkerCode(path)) || (isSharp(specifier) && !typeOnly);
          })
          .map(({ specifier }) => `${relative(SRC, file)} imports ${specifier}`),
      );
    expect(offending).toEqual([]);
  });

  it("keeps the API's HTTP resources (their controllers and modules) out of the worker", () => {
    const httpEntry = (path: string) =>
      HTTP_RESOURCES.some((resource) => {
        const folder = join(SRC, resource);
        return path.startsWith(folder + sep) && (path.endsWith('.controller') || path === join(folder, `${resource}.module`));
      });
    const offending = files
      .filter((file) => file.startsWith(WORKER + sep))
      .flatMap((file) =>
        importsOf(file)
          .filter(({ specifier }) => {
            const path = target(file, specifier);
            return path !== null && httpEntry(path);
          })
          .map(({ specifier }) => `${relative(SRC, file)} imports ${specifier}`),
      );
    expect(offending).toEqual([]);
  });
});
