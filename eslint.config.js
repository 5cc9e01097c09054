// Lint: typescript-eslint's recommended rules; `any` is an error in our code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { LAYERS } from './layers.js';

const ALL = Object.keys(LAYERS);

// A package's code imports no package above it (layers.js); its tests may also use the labs and
// helpers of @retrace/e2e. scripts/check-layers.test.ts checks the package.json files and that no
// relative import leaves its package's folder.
const restrict = (name, allowed) => [
  'error',
  {
    patterns: ALL.filter((p) => p !== name && !allowed.includes(p)).map((p) => ({
      group: [p, `${p}/*`],
      message: `${name} may not import ${p}: layers point down (layers.js)`,
    })),
  },
];
const layerRules = Object.entries(LAYERS).flatMap(([name, { dir, uses }]) => [
  { files: [`${dir}/src/**/*.ts`], rules: { 'no-restricted-imports': restrict(name, uses) } },
  { files: [`${dir}/test/**/*.ts`], rules: { 'no-restricted-imports': restrict(name, [...uses, '@retrace/e2e']) } },
]);

export default tseslint.config(
  { ignores: ['**/dist/**', '**/build/**', '**/node_modules/**', 'bpf/.output/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layerRules,
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setInterval: 'readonly', setImmediate: 'readonly' },
    },
  },
);
