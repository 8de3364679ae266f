/** Jaeger UI search links, used by dashboard data links and alert annotations. */

/** Where the bundled stack publishes the Jaeger UI; the dashboard lets users override it (variable `jaeger_url`). */
export const DEFAULT_JAEGER_URL = 'http://localhost:16686';

const PLACEHOLDER = /(\$\{[^}]+\}|\{\{[^}]+\}\})/;

/** Percent-encodes `text` except Grafana `${...}` and Go-template `{{ ... }}` placeholders, which their tool fills in later. */
function encodeAroundPlaceholders(text: string): string {
  return text
    .split(PLACEHOLDER)
    .map((part) => (PLACEHOLDER.test(part) ? part : encodeURIComponent(part)))
    .join('');
}

/**
 * `<base>/search?service=...&tags=<url-encoded JSON>`: the Jaeger UI search
 * for spans carrying all of `tags` (span, resource or scope attributes).
 * Without a service, the search page where the user picks one.
 * Values may be placeholders; they must expand to URL-safe text (label values do).
 */
export function jaegerSearchUrl(
  base: string,
  search: { service?: string; operation?: string; tags?: Record<string, string>; extra?: string },
): string {
  const params: string[] = [];
  if (search.service !== undefined) params.push(`service=${search.service}`);
  if (search.operation !== undefined) params.push(`operation=${search.operation}`);
  if (search.tags !== undefined) {
    const json = `{${Object.entries(search.tags)
      .map(([key, value]) => `"${key}":"${value}"`)
      .join(',')}}`;
    params.push(`tags=${encodeAroundPlaceholders(json)}`);
  }
  if (search.extra !== undefined) params.push(search.extra);
  return params.length === 0 ? `${base}/search` : `${base}/search?${params.join('&')}`;
}
