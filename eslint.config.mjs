// ESLint (flat config): `npm run lint`, part of `npm test`. typescript-eslint's recommended rules on every TypeScript
// file of tsconfig.json (src, test, bench, reference), ESLint's recommended rules on the JavaScript files, three
// type-aware rules on promises that the compiler does not check, and rules on the disable comments themselves: each
// names its rules and says why, and one that suppresses nothing is an error. test/checks.test.ts proves that the lint
// fails on a broken fixture (test/fixtures/checks/) and passes on a clean one.
import { defineConfig, globalIgnores } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import prettier from 'eslint-config-prettier/flat';

export default defineConfig(
  globalIgnores([
    'node_modules/',
    'data/',
    'results/',
    'figures/',
    'notebooks/',
    'sweeps/',
    'tmp/',
    'native/build/',
    'kernels/build/',
    // AssemblyScript, not TypeScript (i32, v128, @inline): compiled and checked by asc (kernels/build.mjs)
    'kernels/*.ts',
    // deliberately broken fixtures: test/checks.test.ts lints them explicitly
    'test/fixtures/checks/',
    // scratch files, never committed
    '**/*.tmp.ts',
  ]),
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  comments.recommended,
  {
    rules: { '@eslint-community/eslint-comments/require-description': ['error', { ignore: ['eslint-enable'] }] },
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Type-aware: a promise nobody awaits loses its rejection (Node ends the process on an unhandled one).
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Off: loosely shaped JSON (Plotly traces and layouts, run metadata read from config.json, notebook cells) and
      // tfjs internals are typed `any` at their boundary on purpose; strict tsc checks everything else.
      '@typescript-eslint/no-explicit-any': 'off',
      // Off: short statement pairs are written as comma expressions in one-line loop bodies (`a(), b()` in the
      // inference code emitter and the data loaders); the rule reports every such sequence and has no option for it.
      '@typescript-eslint/no-unused-expressions': 'off',
      // A leading underscore marks a parameter, binding or element that is deliberately unused; `({ seconds, ...r })
      // => r` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  // Last: formatting is Prettier's (npm run format:check, part of npm test); rules that would disagree with it are off.
  prettier,
);
