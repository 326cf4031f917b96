import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

export default tseslint.config(
  { ignores: ['node_modules/', 'lib/', 'coverage/', 'test/fixtures/**/node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Forgetting to await an Activity or a Workflow API is a bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests read loosely typed JSON responses.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins.
    files: ['src/workflows/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', ...builtinModules.flatMap((m) => [m, `node:${m}`])],
    },
  },
  // Layers: api → deployments → workflows / activities → store. A layer never imports one above it;
  // workflows reach activities only through their types (they call them by name).
  ...layers({
    'src/api/**/*.ts': { forbidden: ['activities', 'workflows'], why: 'the API reaches Temporal and the activities through src/deployments' },
    'src/deployments/**/*.ts': { forbidden: ['api', 'dashboard'], why: 'the domain layer is below the API' },
    'src/dashboard/**/*.{ts,tsx}': { forbidden: ['api', 'activities', 'workflows'], why: 'the dashboard reaches the API in-process through the function it is given, and Temporal through src/deployments' },
    'src/activities/**/*.ts': { forbidden: ['api', 'workflows', 'dashboard'], why: 'activities are below the API and never run workflow code' },
    'src/workflows/**/*.ts': { forbidden: ['api', 'deployments', 'store', 'dashboard'], typesOnly: ['activities'], why: 'workflow code is deterministic: it calls activities by name' },
    'src/store/**/*.ts': { forbidden: ['api', 'deployments', 'workflows', 'activities'], why: 'the store is the bottom layer' },
    'src/state/**/*.ts': { forbidden: ['api', 'deployments', 'workflows', 'activities'], why: "Pulumi's state backend is read at the bottom layer, beside the store" },
    'src/shared/**/*.ts': { forbidden: ['api', 'deployments', 'workflows', 'activities', 'store'], why: 'shared schemas are used by every layer' },
  }),
  // The dashboard's script runs in the browser.
  { files: ['src/dashboard/assets/*.js'], languageOptions: { globals: { document: 'readonly', window: 'readonly', location: 'readonly', EventSource: 'readonly' } } },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly', setInterval: 'readonly' } } },
);

/** One `@typescript-eslint/no-restricted-imports` block per layer (the plain rule is taken by the sandbox's list). */
function layers(spec) {
  // Another top-level directory of src/ is reached by going up: ../x, ../../x/y.
  const dirs = (names) => `^(\\.\\./)+(${names.join('|')})(/|$)`;
  return Object.entries(spec).map(([files, { forbidden, typesOnly = [], why }]) => ({
    files: [files],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: dirs(forbidden), message: `layering: ${why}.` },
            ...(typesOnly.length ? [{ regex: dirs(typesOnly), allowTypeImports: true, message: `layering: ${why}.` }] : []),
          ],
        },
      ],
    },
  }));
}
