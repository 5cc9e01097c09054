// .Files: the chart's files outside templates/, with Helm's Get and Glob (a Glob result is again
// a Files, whose entries are path -> content, so `range $path, $_ := .Files.Glob "x/*"` works).
import { METHODS, type WithMethods } from './values.js';

/** gobwas/glob with '/' as separator, as Helm uses it: * and ? stay within a path element, ** crosses them. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) re += '\\[';
      else {
        re += `[${pattern
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '{') {
      const end = pattern.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${pattern
          .slice(i + 1, end)
          .split(',')
          .map((a) => a.replace(/[.+^$()|\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
          .join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function filesObject(files: ReadonlyMap<string, string>): WithMethods {
  const obj: WithMethods = {};
  for (const [k, v] of files) obj[k] = v;
  obj[METHODS] = {
    Get: (name) => (typeof name === 'string' ? (files.get(name) ?? '') : ''),
    Glob: (pattern) => {
      const re = globToRegExp(String(pattern));
      return filesObject(new Map([...files].filter(([k]) => re.test(k))));
    },
    Lines: (name) => (typeof name === 'string' ? (files.get(name) ?? '').split('\n') : []),
  };
  return obj;
}
