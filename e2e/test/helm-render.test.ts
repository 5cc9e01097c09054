// The Go-template renderer behind the chart tests: each construct and function the chart uses,
// with Go's and Helm's behaviour where it surprises (float64 values, missing keys, map order).
import { X509Certificate } from 'node:crypto';
import { describe, expect, test } from '@jest/globals';
import {
  ChartValueError,
  Engine,
  TemplateExecError,
  TemplateSyntaxError,
  baseFuncs,
  helmFuncs,
  parseYaml,
  semverCompare,
  validate,
  SchemaKeywordError,
} from '../src/helm/index.js';
import { filesObject } from '../src/helm/files.js';

function engine(defines: Record<string, string> = {}): Engine {
  const e = new Engine(baseFuncs);
  for (const [k, f] of Object.entries(helmFuncs(e))) e.funcs.set(k, f);
  for (const [name, text] of Object.entries(defines)) e.add(name, text);
  return e;
}

function render(text: string, data: unknown = {}, defines: Record<string, string> = {}): string {
  const e = engine(defines);
  e.add('t', text);
  return e.execute('t', data).replaceAll('<no value>', '');
}

/** Values as Helm reads them: numbers are float64. */
const values = (yaml: string): unknown => ({ Values: parseYaml(yaml) });

describe('text and actions', () => {
  test('trim markers remove the whitespace on their side only', () => {
    expect(render('a  {{- "b" -}}  c')).toBe('abc');
    expect(render('a\n  {{- "b" }}\n  c')).toBe('ab\n  c');
    expect(render('a {{ "b" -}}\n\n c')).toBe('a bc');
    expect(render('x{{- /* a comment */ -}}\n y')).toBe('xy');
    expect(render('{{/* only a comment */}}z')).toBe('z');
  });

  test('a "-" without a space is a number, not a trim marker', () => {
    expect(render('{{-3}}')).toBe('-3');
  });

  test('fields, variables, pipelines and parentheses', () => {
    const data = values('a: {b: hello}\nn: 3');
    expect(render('{{ .Values.a.b }}', data)).toBe('hello');
    expect(render('{{ $x := .Values.a }}{{ $x.b | upper }}', data)).toBe('HELLO');
    expect(render('{{ $x := 1 }}{{ $x = 2 }}{{ $x }}', data)).toBe('2');
    expect(render('{{ (printf "%s-%s" "a" "b") | upper }}', data)).toBe('A-B');
    expect(render('{{ (dict "k" "v").k }}', data)).toBe('v');
    expect(render('{{ $.Values.a.b }}', data)).toBe('hello');
    expect(render("{{ 'a' }}", data)).toBe('97');
  });

  test('a missing key is empty; a field of nothing is an error naming the field', () => {
    const data = values('a: {}');
    expect(render('[{{ .Values.a.missing }}]', data)).toBe('[]');
    expect(() => render('{{ .Values.nope.deeper }}', data)).toThrow(/nil pointer evaluating interface \{\}\.deeper/);
    expect(() => render('{{ .Values.a.x.y }}', data)).toThrow(TemplateExecError);
  });

  test('variables are scoped to their block', () => {
    expect(render('{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}')).toBe('21');
    expect(render('{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}')).toBe('2');
    expect(() => render('{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}')).toThrow(/undefined variable: \$y/);
  });
});

describe('control structures', () => {
  test('if / else if / else and with / else', () => {
    const t = '{{ if eq .Values.x "a" }}A{{ else if eq .Values.x "b" }}B{{ else }}C{{ end }}';
    expect(render(t, values('x: a'))).toBe('A');
    expect(render(t, values('x: b'))).toBe('B');
    expect(render(t, values('x: z'))).toBe('C');
    expect(render('{{ with .Values.m }}{{ .k }}{{ else }}none{{ end }}', values('m: {k: v}'))).toBe('v');
    expect(render('{{ with .Values.m }}{{ .k }}{{ else }}none{{ end }}', values('m: {}'))).toBe('none');
    expect(render('{{ with .Values.a }}a{{ else with .Values.b }}{{ . }}{{ end }}', values('b: bee'))).toBe('bee');
  });

  test('range over maps goes in key order, over lists in order, with else when empty', () => {
    expect(render('{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}', values('m: {b: 2, a: 1, c: 3}'))).toBe(
      'a=1;b=2;c=3;',
    );
    expect(render('{{ range $i, $e := .Values.l }}{{ $i }}:{{ . }} {{ end }}', values('l: [x, z]'))).toBe('0:x 1:z ');
    expect(render('{{ range .Values.l }}x{{ else }}empty{{ end }}', values('l: []'))).toBe('empty');
    expect(render('{{ range .Values.nothing }}x{{ else }}empty{{ end }}', values('{}'))).toBe('empty');
    expect(
      render(
        '{{ range .Values.l }}{{ if eq . 2.0 }}{{ continue }}{{ end }}{{ if eq . 4.0 }}{{ break }}{{ end }}{{ . }}{{ end }}',
        values('l: [1, 2, 3, 4, 5]'),
      ),
    ).toBe('13');
  });

  test('define, template and include; include output pipes on', () => {
    const defs = { lib: '{{- define "greet" -}}hi {{ . }}{{- end -}}{{ define "block" }}a: 1\nb: 2{{ end }}' };
    expect(render('{{ template "greet" "bob" }}', {}, defs)).toBe('hi bob');
    expect(render('{{ include "greet" "ann" | upper }}', {}, defs)).toBe('HI ANN');
    expect(render('x:{{ include "block" . | nindent 2 }}', {}, defs)).toBe('x:\n  a: 1\n  b: 2');
    expect(() => render('{{ include "nope" . }}', {}, defs)).toThrow(/no template "nope"/);
  });

  test('a template including itself forever is stopped', () => {
    expect(() =>
      render('{{ include "loop" . }}', {}, { lib: '{{ define "loop" }}{{ include "loop" . }}{{ end }}' }),
    ).toThrow(/nested reference|maximum template depth/);
  });

  test('tpl renders values as templates', () => {
    expect(render('{{ tpl .Values.t . }}', values('t: "{{ .Values.name }}-x"\nname: nm'))).toBe('nm-x');
  });
});

describe('Go semantics charts trip on', () => {
  test('float64 values print like Go: 1e+06 from 1000000', () => {
    expect(render('{{ .Values.num }}', values('num: 1000000'))).toBe('1e+06');
    expect(render('{{ .Values.num }}', values('num: 7443'))).toBe('7443');
    expect(render('{{ .Values.num | int }}', values('num: 67108864'))).toBe('67108864');
    expect(render('{{ printf "%d" .Values.num }}', values('num: 9090'))).toBe('%!d(float64=9090)');
    expect(render('{{ printf "%d" (.Values.num | int) }}', values('num: 9090'))).toBe('9090');
  });

  test('eq refuses int against float64, as Go does', () => {
    expect(() => render('{{ eq .Values.num 1 }}', values('num: 1'))).toThrow(/incompatible types for comparison/);
    expect(render('{{ eq (.Values.num | int) 1 }}', values('num: 1'))).toBe('true');
    expect(render('{{ eq .Values.missing "x" }}', values('{}'))).toBe('false');
    expect(render('{{ ne .Values.s "x" }}', values('s: why'))).toBe('true');
    expect(() => render('{{ ne .Values.s "x" }}', values('s: y'))).toThrow(/incompatible types/); // y is true in YAML 1.1
    expect(render('{{ lt 1 2 }} {{ gt "b" "a" }}')).toBe('true true');
  });

  test('typed parameters refuse the wrong type like Go', () => {
    expect(() => render('{{ indent .Values.num "x" }}', values('num: 2'))).toThrow(/expected int; got float64/);
    expect(() => render('{{ .Values.nope | upper }}', values('{}'))).toThrow(/invalid value; expected string/);
  });

  test('and/or return the deciding operand and stop there', () => {
    expect(render('{{ or .Values.a "fallback" }}', values('a: ""'))).toBe('fallback');
    expect(render('{{ and .Values.a .Values.a.b }}', values('{}'))).toBe('');
    expect(render('{{ not .Values.a }}', values('a: false'))).toBe('true');
  });

  test('YAML 1.1: yes, on, y and n are booleans in values (even as keys)', () => {
    expect(render('{{ .Values.a }} {{ .Values.b }} {{ .Values.c }}', values('a: yes\nb: "on"\nc: n'))).toBe(
      'true on false',
    );
    expect(parseYaml('n: 1')).toEqual({ false: 1 });
  });

  test('default, empty, required and fail', () => {
    expect(render('{{ .Values.p | default 80 }}', values('{}'))).toBe('80');
    expect(render('{{ .Values.p | default 80 }}', values('p: 0'))).toBe('80');
    expect(render('{{ empty .Values.l }} {{ empty .Values.m }}', values('l: []\nm: {a: 1}'))).toBe('true false');
    expect(() => render('{{ required "tls.existing.secret is required" .Values.s }}', values('{}'))).toThrow(
      ChartValueError,
    );
    expect(() => render('{{ required "need s" .Values.s }}', values('s: ""'))).toThrow(/t:1: need s/);
    expect(() => render('\n{{ fail "no way" }}')).toThrow(/t:2: no way/);
  });
});

describe('functions', () => {
  test('strings', () => {
    expect(render('{{ quote "a\\"b" }} {{ squote "x" }} {{ quote .Values.num }}', values('num: 3'))).toBe(
      '"a\\"b" \'x\' "3"',
    );
    expect(render('{{ trunc 5 "abcdefgh" }}|{{ trunc -3 "abcdefgh" }}|{{ trimSuffix "-" "ab-" }}')).toBe(
      'abcde|fgh|ab',
    );
    expect(render('{{ trim "  x " }}{{ lower "AB" }}{{ upper "cd" }}{{ replace "." "-" "a.b" }}')).toBe('xabCDa-b');
    expect(render('{{ contains "ell" "hello" }} {{ hasPrefix "he" "hello" }}')).toBe('true true');
    expect(render('{{ "a\\nb" | indent 2 }}|{{ "a" | nindent 4 }}')).toBe('  a\n  b|\n    a');
    expect(render('{{ b64enc "hello" }} {{ printf "%s:%v:%q:%05d" "a" 1.5 "q" 42 }}')).toBe('aGVsbG8= a:1.5:"q":00042');
    expect(render('{{ join "," (list "a" "b") }} {{ sha256sum "x" | trunc 8 }}')).toBe('a,b 2d711642');
  });

  test('lists and dicts', () => {
    expect(render('{{ list 1 "a" true }}')).toBe('[1 a true]');
    expect(render('{{ $d := dict "b" 2 "a" 1 }}{{ $d }} {{ hasKey $d "a" }} {{ hasKey $d "z" }}')).toBe(
      'map[a:1 b:2] true false',
    );
    expect(render('{{ $m := merge (dict "a" 1) (dict "a" 2 "b" 2) }}{{ $m.a }}{{ $m.b }}')).toBe('12');
    expect(render('{{ toJson (merge (dict "x" (dict "a" 1)) (dict "x" (dict "b" 2))) }}')).toBe('{"x":{"a":1,"b":2}}');
    expect(
      render('{{ index .Values.l 1 }} {{ index .Values.m "k" }} {{ len .Values.l }}', values('l: [a, b]\nm: {k: v}')),
    ).toBe('b v 2');
  });

  test('toYaml sorts keys, leaves no trailing newline, does not indent lists in maps', () => {
    const out = render('{{ toYaml .Values.m }}', values('m: {b: [1, 2], a: {c: "yes"}, big: 67108864, s: "1"}'));
    expect(out).toBe('a:\n  c: "yes"\nb:\n- 1\n- 2\nbig: 67108864\ns: "1"');
    expect(parseYaml(out)).toEqual({ a: { c: 'yes' }, b: [1, 2], big: 67108864, s: '1' });
    expect(render('{{ toYaml .Values.e }}', values('e: {}'))).toBe('{}');
  });

  test('toJson escapes like Go; fromYaml reads a map or reports the error', () => {
    expect(render('{{ toJson (dict "h" "<a&b>" "n" 1) }}')).toBe('{"h":"\\u003ca\\u0026b\\u003e","n":1}');
    expect(render('{{ (fromYaml "a: 1\\nb: [x]").b }}')).toBe('[x]');
    expect(render('{{ (fromYaml "a: [").Error | empty | not }}')).toBe('true');
  });

  test('semverCompare, with pre-releases only matching constraints that allow them', () => {
    expect(semverCompare('>=1.30.0-0', 'v1.30.0')).toBe(true);
    expect(semverCompare('>=1.30.0-0', 'v1.29.4')).toBe(false);
    expect(semverCompare('>=1.30.0', 'v1.31.0-rc.1')).toBe(false);
    expect(semverCompare('>=1.30.0-0', 'v1.31.0-rc.1')).toBe(true);
    expect(semverCompare('~1.29', '1.29.9')).toBe(true);
    expect(semverCompare('^1.2.0', '2.0.0')).toBe(false);
    expect(semverCompare('<1.25 || >=1.28', '1.28.1')).toBe(true);
    expect(render('{{ semverCompare ">=1.30-0" "v1.30.2" }}')).toBe('true');
  });

  test('lookup finds nothing, as with helm template', () => {
    expect(render('{{ $s := lookup "v1" "Secret" "ns" "x" }}{{ empty $s }}')).toBe('true');
  });

  test('.Files.Get and .Files.Glob', () => {
    const Files = filesObject(
      new Map([
        ['files/a.yaml', 'A'],
        ['files/b.yaml', 'B'],
        ['files/sub/c.yaml', 'C'],
      ]),
    );
    expect(render('{{ .Files.Get "files/a.yaml" }}{{ .Files.Get "none" }}', { Files })).toBe('A');
    expect(render('{{ range $p, $_ := .Files.Glob "files/*.yaml" }}{{ $p }};{{ end }}', { Files })).toBe(
      'files/a.yaml;files/b.yaml;',
    );
    expect(render('{{ range $p, $c := .Files.Glob "files/**.yaml" }}{{ $c }}{{ end }}', { Files })).toBe('ABC');
  });

  test('genCA and genSignedCert make a CA that signs a certificate for the names given', () => {
    const out = render(
      '{{ $ca := genCA "test-ca" 365 }}{{ $c := genSignedCert "svc" (list "10.0.0.1") (list "svc.ns.svc" "svc") 365 $ca }}' +
        '{{ $ca.Cert | b64enc }}|{{ $c.Cert | b64enc }}|{{ $c.Key | b64enc }}',
    );
    const [ca, cert, key] = out.split('|').map((b) => Buffer.from(b, 'base64').toString());
    const caX = new X509Certificate(ca as string);
    const x = new X509Certificate(cert as string);
    expect(caX.ca).toBe(true);
    expect(x.checkIssued(caX)).toBe(true);
    expect(x.verify(caX.publicKey)).toBe(true);
    expect(x.subjectAltName).toBe('IP Address:10.0.0.1, DNS:svc.ns.svc, DNS:svc');
    expect(key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
  });
});

describe('errors name the template and line', () => {
  test('syntax', () => {
    expect(() => render('a\n{{ if }}')).toThrow(TemplateSyntaxError);
    expect(() => render('a\nb\n{{ .x ')).toThrow(/t:3: unclosed action/);
    expect(() => render('{{ if true }}x')).toThrow(/unexpected EOF/);
    expect(() => render('{{ end }}')).toThrow(/unexpected \{\{end\}\}/);
    expect(() => render('{{ nosuchfunc 1 }}')).toThrow(/function "nosuchfunc" not defined/);
  });
});

describe('JSON schema validator', () => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    required: ['a'],
    properties: {
      a: { type: 'integer', minimum: 1, maximum: 10 },
      s: { type: 'string', enum: ['x', 'y'] },
      p: { type: 'string', pattern: '^[a-z]+$' },
      l: { type: 'array', items: { $ref: '#/$defs/item' }, maxItems: 2 },
    },
    $defs: { item: { type: 'object', properties: { n: { type: 'string' } }, required: ['n'] } },
  };
  test('accepts what fits and says where what does not', () => {
    expect(validate(schema, { a: 3, s: 'x', p: 'abc', l: [{ n: 'q' }] })).toEqual([]);
    expect(validate(schema, { a: 0, s: 'z', p: 'A', l: [{}, {}, {}], extra: 1 })).toEqual([
      '/a: 0 is less than 1',
      '/s: "z" is not one of "x", "y"',
      '/p: "A" does not match pattern "^[a-z]+$"',
      '/l/0: missing property "n"',
      '/l/1: missing property "n"',
      '/l/2: missing property "n"',
      '/l: more than 2 items',
      '/: additional property "extra" is not allowed',
    ]);
    expect(validate(schema, { a: 1.5 })).toEqual(['/a: got number, want integer']);
  });
  test('refuses keywords it does not implement', () => {
    expect(() => validate({ type: 'object', propertyNames: { maxLength: 3 } }, {})).toThrow(SchemaKeywordError);
  });
});
