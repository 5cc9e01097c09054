// Every function the engine knows, without the Helm ones that need the engine (helm-funcs.ts).
import type { GoFunc } from '../values.js';
import { crypto } from './crypto.js';
import { encoding } from './encoding.js';
import { goBuiltins } from './go-builtins.js';
import { semver } from './semver.js';
import { sprigCollections } from './sprig-collections.js';
import { sprigStrings } from './sprig-strings.js';

export const baseFuncs: Record<string, GoFunc> = {
  ...goBuiltins,
  ...sprigStrings,
  ...sprigCollections,
  ...encoding,
  ...crypto,
  ...semver,
};
