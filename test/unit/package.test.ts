import fs from 'fs';
import path from 'path';
import { VERSION } from '../../src/version';

const root = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('package', () => {
  it('reports the version of package.json as its instrumentation scope version', () => {
    expect(VERSION).toBe(pkg.version);
  });

  it('exposes the main entry and the register entry, and ships nothing from tests or the example', () => {
    expect(pkg.exports['.'].default).toBe('./dist/src/index.js');
    expect(pkg.exports['./register'].default).toBe('./dist/src/register.js');
    expect(pkg.files).not.toEqual(expect.arrayContaining(['test', 'example', 'bench']));
    const sources = fs.readdirSync(path.join(root, 'src'), { recursive: true }) as string[];
    for (const file of sources.filter((f) => f.endsWith('.ts'))) {
      const text = fs.readFileSync(path.join(root, 'src', file), 'utf8');
      expect(text).not.toMatch(/from '\.\.\/(\.\.\/)?(test|example|bench)\//);
    }
  });
});
