// Helm's functions over the engine: include and tpl render templates to strings; required and
// fail stop the render with the chart's message; lookup finds nothing, as in `helm template`.
import type { Engine } from './engine.js';
import { FuncFail } from './evaluator.js';
import { str } from './funcs/args.js';
import { isMap, type GoFunc } from './values.js';

export function helmFuncs(engine: Engine): Record<string, GoFunc> {
  return {
    include: (name, data) => engine.execute(str(name), data),
    tpl: (text, data) => {
      const t = isMap(data) && isMap(data['Template']) ? data['Template']['Name'] : undefined;
      const name = typeof t === 'string' ? t : 'tpl';
      return engine.executeText(name, str(text), data).replaceAll('<no value>', '');
    },
    required: (message, value) => {
      if (value === null || value === undefined || value === '') throw new FuncFail(str(message));
      return value;
    },
    fail: (message) => {
      throw new FuncFail(str(message));
    },
    lookup: (...args) => {
      if (args.length !== 4) throw new Error(`wrong number of args for lookup: want 4 got ${args.length}`);
      return {};
    },
  };
}
