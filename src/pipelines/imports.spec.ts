import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as ts from 'typescript';

/*
 * The API validates jobs with src/pipelines alone: it must not load the worker's code, nor sharp,
 * whose native decoders may crash (uploads get a structural check that decodes no pixel,
 * src/images/image-structure.ts; the worker decodes them). The worker, in turn, must not pull in
 * the API's HTTP resources. src/pipelines itself is the pure core: it imports nothing of the app.
 * And the top-level folders of src/ form no cycle, so that each can be read (and loaded) after
 * the ones it builds on.
 */

const SRC = resolve(__dirname, '..');
const WORKER = join(SRC, 'worker');
const PIPELINES = join(SRC, 'pipelines');
const HTTP_RESOURCES = ['images', 'users', 'jobs', 'job-types', 'image-types', 'auth', 'presets', 'derivatives', 'signed-urls'];

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

/** `import type { A }` and `import { type A, type B }`: TypeScript erases both from the JavaScript. */
function importsTypesOnly(clause: ts.ImportClause | undefined): boolean {
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  const bindings = clause.namedBindings;
  return (
    !clause.name &&
    bindings !== undefined &&
    ts.isNamedImports(bindings) &&
    bindings.elements.length > 0 &&
    bindings.elements.every((element) => element.isTypeOnly)
  );
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
      const typeOnly = ts.isImportDeclaration(node) ? importsTypesOnly(node.importClause) : node.isTypeOnly;
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

/** The top-level entry of src/ a file or module path is in: its folder, or the file itself at the root. */
const topLevel = (path: string) => relative(SRC, path).split(sep)[0].replace(/\.ts$/, '');

/**
 * Which top-level entry imports which, at run time, with the imports that make each edge. An
 * `import type` is left out: it is erased from the JavaScript, so it loads nothing (an entity's
 * relation names its target by a string and imports the class as a type, as TypeORM documents).
 */
function folderGraph(files: string[]): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const file of files) {
    for (const { specifier, typeOnly } of importsOf(file)) {
      const path = target(file, specifier);
      if (typeOnly || path === null || !path.startsWith(SRC + sep)) continue;
      const [from, to] = [topLevel(file), topLevel(path)];
      if (from === to) continue;
      const edges = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, edges.set(to, [...(edges.get(to) ?? []), `${relative(SRC, file)} imports ${specifier}`]));
    }
  }
  return graph;
}

/** A cycle of the graph, each hop with the imports that make it; null when there is none. */
function findCycle(graph: Map<string, Map<string, string[]>>): string[] | null {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    const start = path.indexOf(node);
    if (start >= 0) {
      const cycle = [...path.slice(start), node];
      return cycle.slice(1).map((to, index) => `${cycle[index]} -> ${to}: ${graph.get(cycle[index])!.get(to)!.join(', ')}`);
    }
    if (done.has(node)) return null;
    path.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      const found = visit(next);
      if (found) return found;
    }
    path.pop();
    done.add(node);
    return null;
  };
  for (const node of graph.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return null;
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

  it("keeps the API's HTTP resources (their controllers, DTOs and modules) out of the worker", () => {
    const httpEntry = (path: string) =>
      HTTP_RESOURCES.some((resource) => {
        const folder = join(SRC, resource);
        return (
          path.startsWith(folder + sep) &&
          (path.endsWith('.controller') || path.startsWith(join(folder, 'dto') + sep) || path === join(folder, `${resource}.module`))
        );
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

  it('keeps src/pipelines free of the app: it imports only itself and packages', () => {
    const offending = files
      .filter((file) => file.startsWith(PIPELINES + sep))
      .flatMap((file) =>
        importsOf(file)
          .filter(({ specifier }) => {
            const path = target(file, specifier);
            return path !== null && !path.startsWith(PIPELINES + sep);
          })
          .map(({ specifier }) => `${relative(SRC, file)} imports ${specifier}`),
      );
    expect(offending).toEqual([]);
  });

  it('finds no cycle between the top-level folders of src/', () => {
    expect(findCycle(folderGraph(files))).toBeNull();
  });

  it('would report a cycle with the imports that make it', () => {
    const graph = new Map([
      ['jobs', new Map([['images', ['jobs/jobs.service.ts imports ../images/images.service']]])],
      ['images', new Map([['jobs', ['images/images.service.ts imports ../jobs/job.repository']]])],
    ]);
    expect(findCycle(graph)).toEqual([
      'jobs -> images: jobs/jobs.service.ts imports ../images/images.service',
      'images -> jobs: images/images.service.ts imports ../jobs/job.repository',
    ]);
    expect(findCycle(new Map([['jobs', new Map([['images', ['…']]])]]))).toBeNull();
  });
});
