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
    expect(pkg.exports['./nest'].default).toBe('./dist/src/nest-module.js');
    expect(pkg.dependencies).toEqual({ '@opentelemetry/sdk-node': expect.any(String) });
    expect(pkg.peerDependencies['@opentelemetry/api']).toBeDefined();
    expect(pkg.files).not.toEqual(expect.arrayContaining(['test', 'example', 'bench']));
    const sources = fs.readdirSync(path.join(root, 'src'), { recursive: true }) as string[];
    for (const file of sources.filter((f) => f.endsWith('.ts'))) {
      const text = fs.readFileSync(path.join(root, 'src', file), 'utf8');
      expect(text).not.toMatch(/from '\.\.\/(\.\.\/)?(test|example|bench)\//);
    }
  });
});

describe('attachCarrier', () => {
  const { attachCarrier } = require('../../src/engine/carrier') as typeof import('../../src/engine/carrier');
  const { TWENTY_MODEL } = require('../../src/twenty/model') as typeof import('../../src/twenty/model');
  const carrier = { v: 1 as const, origins: ['ui' as const], publishedAt: 1 };

  it('copies an own __proto__ key as a key (never as a prototype) and leaves the input untouched', () => {
    for (const wire of [
      '{"__proto__":{"polluted":true},"objectRecordEventsWithQueryIds":[{"queryIds":["q"]}]}',
      '[{"__proto__":{"polluted":true},"queryIds":["q"]}]',
    ]) {
      const payload = JSON.parse(wire) as object;
      const out = attachCarrier(payload, carrier, TWENTY_MODEL.payload) as
        Record<string, unknown> | Record<string, unknown>[];
      const carrying = (Array.isArray(out) ? out[0] : out) as Record<string, unknown>;
      expect(Object.getPrototypeOf(carrying)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(carrying, '__proto__')).toBe(true);
      const { __twentySseOtel: attached, ...rest } = carrying;
      expect(attached).toBe(carrier);
      expect(JSON.stringify(Array.isArray(out) ? [rest, ...out.slice(1)] : rest)).toBe(wire);
      expect(JSON.stringify(payload)).toBe(wire);
    }
  });
});
