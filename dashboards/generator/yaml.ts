/**
 * A minimal YAML writer for the generated Prometheus files: block style,
 * plain scalars where unambiguous, single quotes otherwise (PromQL's double
 * quotes stay readable). Enough for rule and promtool test files, no more.
 */
export type YamlValue = string | number | boolean | YamlValue[] | { [key: string]: YamlValue | undefined };

const PLAIN = /^[A-Za-z0-9_./-](?:[A-Za-z0-9_ .:/-]*[A-Za-z0-9_./-])?$/;
const RESERVED = /^(?:true|false|yes|no|on|off|null|y|n)$/i;

function scalar(value: string | number | boolean): string {
  if (typeof value !== 'string') return String(value);
  if (value.includes('\n')) throw new Error(`multi-line YAML strings are not supported: ${value}`);
  const plain = PLAIN.test(value) && !value.includes(': ') && !RESERVED.test(value) && Number.isNaN(Number(value));
  return plain ? value : `'${value.replace(/'/g, "''")}'`;
}

const isCollection = (value: YamlValue): value is YamlValue[] | { [key: string]: YamlValue | undefined } =>
  typeof value === 'object';

const entriesOf = (map: { [key: string]: YamlValue | undefined }) =>
  Object.entries(map).filter((entry): entry is [string, YamlValue] => entry[1] !== undefined);

function emptyCollection(value: YamlValue[] | { [key: string]: YamlValue | undefined }): string | undefined {
  if (Array.isArray(value)) return value.length === 0 ? '[]' : undefined;
  return entriesOf(value).length === 0 ? '{}' : undefined;
}

function lines(value: YamlValue, indent: string): string[] {
  if (!isCollection(value)) return [`${indent}${scalar(value)}`];
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      if (!isCollection(item) || emptyCollection(item) !== undefined) {
        return [`${indent}- ${isCollection(item) ? emptyCollection(item) : scalar(item)}`];
      }
      const [first, ...rest] = lines(item, `${indent}  `);
      return [`${indent}- ${first.slice(indent.length + 2)}`, ...rest];
    });
  }
  return entriesOf(value).flatMap(([key, item]) => {
    if (!isCollection(item)) return [`${indent}${scalar(key)}: ${scalar(item)}`];
    const empty = emptyCollection(item);
    if (empty !== undefined) return [`${indent}${scalar(key)}: ${empty}`];
    return [`${indent}${scalar(key)}:`, ...lines(item, `${indent}  `)];
  });
}

/** The document, preceded by `header` lines as `#` comments. */
export function toYaml(value: YamlValue, header: readonly string[] = []): string {
  return [...header.map((line) => (line === '' ? '#' : `# ${line}`)), ...lines(value, '')].join('\n') + '\n';
}
