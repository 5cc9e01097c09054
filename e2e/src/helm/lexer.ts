// Go text/template's lexer: template text into text and action tokens. Trim markers are applied
// here: `{{- ` removes the whitespace before the action, ` -}}` the whitespace after it, as Go
// does. Comments (`{{/* */}}`) produce no token.
import { TemplateSyntaxError } from './errors.js';

export type TokenKind =
  | 'text'
  | 'left' // {{
  | 'right' // }}
  | 'space'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare' // :=
  | 'assign' // =
  | 'comma'
  | 'string' // value unquoted
  | 'char' // value: the rune's number
  | 'number'
  | 'bool'
  | 'nil'
  | 'dot'
  | 'field' // value without the dot
  | 'variable' // value with the $
  | 'identifier'
  | 'keyword'
  | 'eof';

export interface Token {
  kind: TokenKind;
  value: string;
  line: number;
}

export const KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
]);

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** Go's strconv.Unquote for the body of a "..." or '...' literal. */
export function unquote(body: string, fail: (detail: string) => never): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) fail('unterminated escape');
    if (ESCAPES[e] !== undefined) {
      out += ESCAPES[e];
      continue;
    }
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : /[0-7]/.test(e) ? 3 : 0;
    if (width === 0) fail(`unknown escape sequence \\${e}`);
    const digits = e >= '0' && e <= '7' ? body.slice(i, i + 3) : body.slice(i + 1, i + 1 + width);
    const code = parseInt(digits, e >= '0' && e <= '7' ? 8 : 16);
    if (digits.length !== width || Number.isNaN(code)) fail(`invalid escape \\${e}${digits}`);
    out += e === 'x' || (e >= '0' && e <= '7') ? String.fromCharCode(code) : String.fromCodePoint(code);
    i += e >= '0' && e <= '7' ? 2 : width;
  }
  return out;
}

export function lex(template: string, src: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  let trimNext = false; // the previous action ended with -}}
  const fail = (detail: string): never => {
    throw new TemplateSyntaxError({ template, line }, detail);
  };
  const emit = (kind: TokenKind, value: string): void => {
    tokens.push({ kind, value, line });
    line += value.split('\n').length - 1;
  };
  const atRight = (): 0 | 2 | 4 => {
    if (src.startsWith('}}', pos)) return 2;
    if (isSpace(src[pos]) && src[pos + 1] === '-' && src.startsWith('}}', pos + 2)) return 4;
    return 0;
  };

  while (pos < src.length) {
    // Text up to the next action.
    const open = src.indexOf('{{', pos);
    let text = src.slice(pos, open < 0 ? src.length : open);
    const leftTrim = open >= 0 && src[open + 2] === '-' && isSpace(src[open + 3]);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    const lines = src.slice(pos, open < 0 ? src.length : open).split('\n').length - 1;
    if (leftTrim) text = text.replace(/[ \t\r\n]+$/, '');
    if (text) tokens.push({ kind: 'text', value: text, line });
    line += lines;
    trimNext = false;
    if (open < 0) break;
    pos = open + 2 + (leftTrim ? 2 : 0);

    // A comment: /* ... */ then the closing delimiter, nothing else.
    if (src.startsWith('/*', pos)) {
      const close = src.indexOf('*/', pos + 2);
      if (close < 0) fail('unclosed comment');
      line += src.slice(pos, close).split('\n').length - 1;
      pos = close + 2;
      const r = atRight();
      if (!r) fail('comment ends before closing delimiter');
      trimNext = r === 4;
      pos += r;
      continue;
    }

    emit('left', '{{');
    let parens = 0;
    for (;;) {
      const r = atRight();
      if (r) {
        if (parens > 0) fail('unclosed left paren');
        emit('right', '}}');
        trimNext = r === 4;
        pos += r;
        break;
      }
      const c = src[pos];
      if (c === undefined) fail('unclosed action');
      if (isSpace(c)) {
        const start = pos;
        while (isSpace(src[pos]) && !atRight()) pos++;
        emit('space', src.slice(start, pos));
      } else if (c === '|') {
        emit('pipe', c);
        pos++;
      } else if (c === '(') {
        parens++;
        emit('lparen', c);
        pos++;
      } else if (c === ')') {
        if (--parens < 0) fail('unexpected right paren');
        emit('rparen', c);
        pos++;
      } else if (c === ':') {
        if (src[pos + 1] !== '=') fail('expected :=');
        emit('declare', ':=');
        pos += 2;
      } else if (c === '=') {
        emit('assign', c);
        pos++;
      } else if (c === ',') {
        emit('comma', c);
        pos++;
      } else if (c === '"') {
        let end = pos + 1;
        while (src[end] !== '"') {
          if (src[end] === undefined || src[end] === '\n') fail('unterminated quoted string');
          end += src[end] === '\\' ? 2 : 1;
        }
        tokens.push({ kind: 'string', value: unquote(src.slice(pos + 1, end), fail), line });
        pos = end + 1;
      } else if (c === '`') {
        const end = src.indexOf('`', pos + 1);
        if (end < 0) fail('unterminated raw quoted string');
        emit('string', src.slice(pos + 1, end));
        pos = end + 1;
      } else if (c === "'") {
        let end = pos + 1;
        while (src[end] !== "'") {
          if (src[end] === undefined || src[end] === '\n') fail('unterminated character constant');
          end += src[end] === '\\' ? 2 : 1;
        }
        const ch = unquote(src.slice(pos + 1, end), fail);
        if ([...ch].length !== 1) fail(`malformed character constant '${ch}'`);
        emit('char', String(ch.codePointAt(0)));
        pos = end + 1;
      } else if (c === '$') {
        let end = pos + 1;
        while (isAlnum(src[end])) end++;
        emit('variable', src.slice(pos, end));
        pos = end;
      } else if (c === '.' && !isDigit(src[pos + 1])) {
        let end = pos + 1;
        while (isAlnum(src[end])) end++;
        if (end === pos + 1) emit('dot', '.');
        else emit('field', src.slice(pos + 1, end));
        pos = end;
      } else if (
        isDigit(c) ||
        c === '.' ||
        ((c === '-' || c === '+') && (isDigit(src[pos + 1]) || src[pos + 1] === '.'))
      ) {
        const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9_]*\.?[0-9_]*([eE][+-]?[0-9_]+)?)/.exec(
          src.slice(pos),
        );
        const num = m?.[0] ?? '';
        if (!num || isAlnum(src[pos + num.length])) fail(`bad number syntax: ${src.slice(pos, pos + num.length + 1)}`);
        emit('number', num);
        pos += num.length;
      } else if (isAlnum(c)) {
        let end = pos;
        while (isAlnum(src[end])) end++;
        const word = src.slice(pos, end);
        emit(
          KEYWORDS.has(word)
            ? 'keyword'
            : word === 'true' || word === 'false'
              ? 'bool'
              : word === 'nil'
                ? 'nil'
                : 'identifier',
          word,
        );
        pos = end;
      } else {
        fail(`unexpected ${JSON.stringify(c)} in command`);
      }
    }
  }
  tokens.push({ kind: 'eof', value: '', line });
  return tokens;
}
