// Prepares the example app for the suites that run it on each Nest major and
// module system (run by test/global-setup.js after the build, and by
// `npm run example:nest12`):
// - dist/esm/: an ES module build of example/ (SWC, same decorator settings
//   as the TypeScript build), the "ESM app" of the suites, on Nest 11 from the
//   repository's node_modules;
// - test/fixtures/nest12/dist/: the built package (dist/src), the CommonJS
//   example (dist/example) and the ES module one (dist/esm), copied next to
//   the Nest 12 install so that both the app and the package resolve Nest 12,
//   as they would in an app's node_modules; test/fixtures/nest10/dist/: the
//   package only. Only .js files are copied.
// A fixture whose install (.ci/setup.sh) is absent is skipped.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '../..');
const NEST10 = path.join(root, 'test/fixtures/nest10');
const NEST12 = path.join(root, 'test/fixtures/nest12');

function* sources(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(full);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) yield full;
  }
}

// The generation loader picks one generation with require() at run time; in an ES module that is createRequire's.
const REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);\n";

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
  const copies = { [NEST10]: ['src'], [NEST12]: ['src', 'example', 'esm'] };
  const prepared = {};
  for (const [fixture, parts] of Object.entries(copies)) {
    const installed = fs.existsSync(path.join(fixture, 'node_modules/@nestjs/core'));
    prepared[path.basename(fixture)] = installed;
    if (!installed) continue;
    const target = path.join(fixture, 'dist');
    fs.rmSync(target, { recursive: true, force: true });
    for (const part of parts) copyJs(path.join(root, 'dist', part), path.join(target, part));
  }
  return prepared;
}

module.exports = { prepareNestMajors, NEST10, NEST12 };

if (require.main === module) {
  const prepared = prepareNestMajors();
  const missing = Object.keys(prepared).filter((name) => !prepared[name]);
  process.stderr.write(
    `[nest-majors] dist/esm built; copied to ${
      Object.keys(prepared)
        .filter((name) => prepared[name])
        .map((name) => `test/fixtures/${name}/dist`)
        .join(', ') || 'no fixture'
    }${missing.length ? ` (${missing.join(', ')} not installed: bash .ci/setup.sh)` : ''}\n`,
  );
}
