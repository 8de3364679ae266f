// Prepares the example app for the suites that run it on each Nest major and
// module system (run by test/global-setup.js after the build, and by
// `npm run example:nest12`):
// - dist/esm/: an ES module build of example/ (SWC, same decorator settings
//   as the TypeScript build), the "ESM app" of the suites, on Nest 11 from the
//   repository's node_modules;
// - test/fixtures/nest12/dist/: the built package (dist/src), the CommonJS
//   example (dist/example) and the ES module one (dist/esm), copied next to
//   the Nest 12 install so that both the app and the package resolve Nest 12,
//   as they would in an app's node_modules. Only .js files are copied.
// The Nest 12 part is skipped when its install (.ci/setup.sh) is absent.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '../..');
const NEST12 = path.join(root, 'test/fixtures/nest12');

function* sources(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(full);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield full;
  }
}

// The generation loader picks one generation with require() at run time; in an ES module that is createRequire's.
const REQUIRE_SHIM = "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);\n";

function buildEsmExample(outDir) {
  const swc = require('@swc/core');
  const exampleDir = path.join(root, 'example');
  fs.rmSync(outDir, { recursive: true, force: true });
  for (const file of sources(exampleDir)) {
    const relative = path.relative(exampleDir, file);
    if (relative.startsWith(`demo${path.sep}`)) continue; // the demo runs the package in process, from dist/
    const { code } = swc.transformFileSync(file, {
      swcrc: false,
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2021',
        baseUrl: root,
      },
      module: { type: 'es6', resolveFully: true },
    });
    const target = path.join(outDir, 'example', relative.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Deep imports into CommonJS Nest 11 (no exports map) need their file extension under ESM resolution.
    const esm = code.replace(/from "(@nestjs\/[^/"]+\/[^"]+?)(?<!\.js)"/g, 'from "$1.js"');
    fs.writeFileSync(target, /\brequire\(/.test(esm) ? REQUIRE_SHIM + esm : esm);
  }
  fs.writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n');
}

function copyJs(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copyJs(source, target);
    else if (entry.name.endsWith('.js') || entry.name === 'package.json') fs.copyFileSync(source, target);
  }
}

function prepareNestMajors() {
  buildEsmExample(path.join(root, 'dist/esm'));
  if (!fs.existsSync(path.join(NEST12, 'node_modules/@nestjs/core'))) return { nest12: false };
  const target = path.join(NEST12, 'dist');
  fs.rmSync(target, { recursive: true, force: true });
  for (const part of ['src', 'example', 'esm']) copyJs(path.join(root, 'dist', part), path.join(target, part));
  return { nest12: true };
}

module.exports = { prepareNestMajors, NEST12 };

if (require.main === module) {
  const { nest12 } = prepareNestMajors();
  process.stderr.write(`[nest-majors] dist/esm built${nest12 ? '; copied to test/fixtures/nest12/dist' : '; Nest 12 fixture not installed (bash .ci/setup.sh)'}\n`);
}
