/**
 * @nestjs/terminus 12, @tus/* 2 and srvx (which @tus/server imports) are published as ES modules
 * only. Node (20.19 and later) requires them from the product's CommonJS build natively; jest's
 * module loader cannot, so for the tests this transformer compiles those packages' files to CommonJS, `import.meta` included: a `require`
 * made from `import.meta.url` is dropped (CommonJS has one), and the rest maps onto CommonJS's own.
 */
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const ts = require('typescript');

const OWN_SOURCE = readFileSync(__filename);

module.exports = {
  /** Jest caches transforms by this key: a change to this file must make them again. */
  getCacheKey(source, filename) {
    return createHash('sha256').update(OWN_SOURCE).update(filename).update(source).digest('hex');
  },

  process(source, filename) {
    const code = source
      .replace(/^const require = createRequire\(import\.meta\.url\);$/m, '')
      .replace(/\bimport\.meta\.resolve\(/g, 'require.resolve(')
      .replace(/\bimport\.meta\.dirname\b/g, '__dirname')
      .replace(/\bimport\.meta\.url\b/g, "require('node:url').pathToFileURL(__filename).href");
    const { outputText } = ts.transpileModule(code, {
      // TypeScript keeps a .mjs file an ES module whatever it is asked: named .js, it is compiled like the rest.
      fileName: filename.replace(/\.mjs$/, '.js'),
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, allowJs: true },
    });
    return { code: outputText };
  },
};
