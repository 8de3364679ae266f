/**
 * A static look at JavaScript or TypeScript source: which classes are
 * declared and which methods each declares. Enough for Twenty's code, whether
 * SWC output (`let X = class X { async m() {} }`), tsc output or the
 * TypeScript sources (`export class X { private async m(): Promise<void> {} }`,
 * decorators included). No parser dependency: strings, comments and template
 * literals are skipped, nested blocks are not looked into.
 */

const IDENT = /[A-Za-z_$][\w$]*/y;
const NOT_METHODS = new Set([
  'constructor',
  'if',
  'for',
  'while',
  'switch',
  'catch',
  'function',
  'return',
  'super',
  'await',
  'new',
  'typeof',
]);
const MODIFIERS = new Set([
  'public',
  'private',
  'protected',
  'static',
  'async',
  'override',
  'abstract',
  'readonly',
  'declare',
  'get',
  'set',
  'accessor',
]);

/** Index just past a string, template literal or comment starting at `i`, or `i` when there is none. */
function skipNonCode(text: string, i: number): number {
  const c = text[i];
  if (c === '/' && text[i + 1] === '/') {
    const end = text.indexOf('\n', i);
    return end < 0 ? text.length : end;
  }
  if (c === '/' && text[i + 1] === '*') {
    const end = text.indexOf('*/', i + 2);
    return end < 0 ? text.length : end + 2;
  }
  if (c === "'" || c === '"' || c === '`') {
    let j = i + 1;
    while (j < text.length) {
      if (text[j] === '\\') j += 2;
      else if (text[j] === c) return j + 1;
      else if (c === '`' && text[j] === '$' && text[j + 1] === '{') j = skipBlock(text, j + 1, '{', '}');
      else j++;
    }
    return j;
  }
  return i;
}

/** Index just past the block that opens at `i` (text[i] === open). */
function skipBlock(text: string, i: number, open: string, close: string): number {
  let depth = 0;
  let j = i;
  while (j < text.length) {
    const skipped = skipNonCode(text, j);
    if (skipped !== j) {
      j = skipped;
      continue;
    }
    const c = text[j];
    if (c === open) depth++;
    else if (c === close) {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
  return j;
}

/** The class body's own text: nested blocks and parenthesised text emptied, strings and comments blanked. */
function topLevelOf(body: string): string {
  let out = '';
  let j = 0;
  while (j < body.length) {
    const skipped = skipNonCode(body, j);
    if (skipped !== j) {
      out += ' ';
      j = skipped;
      continue;
    }
    const c = body[j];
    if (c === '{' || c === '(' || c === '[') {
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      out += c === '{' ? '{};' : `${c}${close}`;
      j = skipBlock(body, j, c, close);
      continue;
    }
    out += c;
    j++;
  }
  return out;
}

/** Method names declared at the top level of a class body. */
export function methodsOfClassBody(body: string): Set<string> {
  const text = topLevelOf(body);
  const methods = new Set<string>();
  // a member starts after `;`, `}` or at the start; decorators (`@X()`) and modifiers come before its name
  for (const member of text.split(/[;}]/)) {
    let rest = member.trim();
    while (rest.startsWith('@')) rest = rest.replace(/^@[\w$.]+\s*(\(\))?\s*/, '');
    const words = rest.match(/^((?:[A-Za-z_$][\w$]*\s+)*)\*?\s*(#?[A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*\??\s*\(\)/);
    if (!words) continue;
    const modifiers = words[1].trim().split(/\s+/).filter(Boolean);
    if (modifiers.some((word) => !MODIFIERS.has(word))) continue;
    const name = words[2];
    if (name.startsWith('#') || NOT_METHODS.has(name)) continue;
    if (modifiers.includes('get') || modifiers.includes('set')) continue;
    methods.add(name);
  }
  return methods;
}

/** Every class declared in `source` (declarations and named class expressions), with its methods. */
export function scanClasses(source: string): Map<string, Set<string>> {
  const classes = new Map<string, Set<string>>();
  let i = 0;
  while (i < source.length) {
    const skipped = skipNonCode(source, i);
    if (skipped !== i) {
      i = skipped;
      continue;
    }
    if (source.startsWith('class', i) && !/[\w$]/.test(source[i - 1] ?? '') && /\s/.test(source[i + 5] ?? '')) {
      let j = i + 5;
      while (/\s/.test(source[j] ?? '')) j++;
      IDENT.lastIndex = j;
      const match = IDENT.exec(source);
      const open = source.indexOf('{', j);
      if (match && match[0] !== 'extends' && open > 0) {
        const end = skipBlock(source, open, '{', '}');
        const methods = methodsOfClassBody(source.slice(open + 1, end - 1));
        const known = classes.get(match[0]);
        if (known) for (const method of methods) known.add(method);
        else classes.set(match[0], methods);
        // nested classes (rare) are found by going on inside the body
        i = open + 1;
        continue;
      }
    }
    i++;
  }
  return classes;
}
