// keysmith's lint: typescript-eslint with type information, plus the layering of src/ (tools/eslint/keysmith-plugin.js,
// described in docs/architecture.md). Formatting is prettier's job (.prettierrc); no style rules here.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import keysmith from './tools/eslint/keysmith-plugin.js';

/**
 * keysmith's own rules, which need no type information: test/unit/lint runs exactly these on deliberately wrong code
 * (lintText on virtual files, which the type-aware project service cannot see).
 */
export const houseRules = [
  // One private-member style: the TypeScript `private` keyword (STYLE, HELPER-GUIDE).
  {
    files: ['**/*.ts', 'ui/**/*.tsx'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            ':matches(PropertyDefinition, MethodDefinition, AccessorProperty, TSAbstractPropertyDefinition) > PrivateIdentifier.key',
          message: "use the TypeScript 'private' keyword, not an ECMAScript #private member (one style in keysmith).",
        },
      ],
    },
  },

  // src/: the layering, the clock, no cycles, imports that resolve and belong to dependencies.
  {
    files: ['src/**/*.ts'],
    plugins: { keysmith, 'import-x': importX },
    settings: {
      'import-x/resolver-next': [
        createNodeResolver({ extensions: ['.ts', '.js', '.json', '.node'], extensionAlias: { '.js': ['.ts', '.js'] } }),
      ],
    },
    rules: {
      'keysmith/layering': 'error',
      'keysmith/no-deep-import': 'error',
      'keysmith/clock-only': 'error',
      'keysmith/no-cycle': 'error',
      'import-x/no-self-import': 'error',
      'import-x/no-duplicates': ['error', { 'prefer-inline': true }],
      'import-x/no-extraneous-dependencies': ['error', { devDependencies: false, optionalDependencies: false, peerDependencies: false }],
      'import-x/no-mutable-exports': 'error',
    },
  },

  // The engine and the PKIX library parse hostile bytes: no `!` to paper over a missing check.
  {
    files: ['src/tls/**/*.ts', 'src/pkix/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'error' },
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'openapi/**', 'test/fixtures/**'] },

  // Everything: the recommended JavaScript rules.
  js.configs.recommended,
  { languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node } } },

  // TypeScript with type information (src, test, bench are one tsconfig project; ui/ has its own, found by the project service).
  {
    files: ['**/*.ts', 'ui/**/*.tsx'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `_`-prefixed names are deliberately unused (tsc's noUnusedLocals/Parameters catch the rest).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Type-only imports stay type-only (they vanish at run time and cannot create a load-order cycle).
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // A floating promise is a lost error; `void` marks the deliberate ones.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          ignoreVoid: true,
          // node:test's describe/it return promises the runner awaits itself.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      // Promises handed to callbacks that ignore the result (node:test's `it`, event emitters) are fine.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      // Throw and reject with Error objects; passing on a caught `unknown` as it came is fine.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // A `let` assigned once after a closure that reads it was declared (timers) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // An async function without await is how a port method turns a throw into a rejection: deliberate here.
      '@typescript-eslint/require-await': 'off',
    },
  },

  // Tests and benches: the checks that find real mistakes stay (floating promises, misused promises, unused code);
  // those that only restate what a test does on purpose go (reading parsed JSON bodies, stringifying a reply for
  // an assertion message, passing repository methods to assert.throws, Promise.all over a backend's sync results).
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/await-thenable': 'off',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      // Untyped emitters hand listeners `any` errors.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
    },
  },

  // The operator console runs in the browser: DOM globals (its tsconfig has the DOM libs and no @types/node).
  // Flat config merges globals, so Node's stay declared from above: the ones that would break in a browser are refused.
  {
    files: ['ui/src/**/*.ts', 'ui/src/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'no-restricted-globals': ['error', 'process', 'require', 'Buffer', '__dirname', '__filename'] },
  },

  // Plain JavaScript (scripts, this file): no type information.
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], extends: [tseslint.configs.disableTypeChecked] },

  ...houseRules,
);
