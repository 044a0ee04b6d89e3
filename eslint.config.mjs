// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'coverage/**',
      '.runforge/**',
      'artifacts/**',
      'apps/gateway/web/build/**',
    ],
  },
  eslint.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver': { typescript: true, node: true } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      'import-x/no-cycle': ['error', { maxDepth: 5 }],
    },
  },
  {
    // Nest resolves constructor parameters from decorator metadata: those imports must stay value imports.
    files: [
      'apps/**/*.ts',
      'libs/service/**/*.ts',
      'libs/read-models/**/*.ts',
      'libs/messaging/**/*.ts',
      'libs/datasets/**/*.ts',
      'libs/scheduling/**/*.ts',
      'libs/submission/**/*.ts',
      'libs/telemetry/**/*.ts',
    ],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    // Tests compare against jest's asymmetric matchers, which are typed `any`.
    files: ['**/*.spec.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    // The engine is the deterministic core: no frameworks, no I/O, no ambient clock or randomness.
    files: ['libs/engine/src/**/*.ts'],
    ignores: ['libs/engine/src/**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@nestjs/*',
            '@nats-io/*',
            'typeorm',
            'pg',
            'fs',
            'node:*',
            'net',
            'http',
            '@runforge/messaging',
            '@runforge/service',
            '@runforge/read-models',
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Inject time; the engine is deterministic.' },
        { object: 'Math', property: 'random', message: 'Use the seeded generator.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Inject time.' },
      ],
    },
  },
  {
    // The worker's attempt decisions are pure: the consumer reads the run, this decides, the consumer acts.
    files: ['apps/engine-worker/src/runs/attempt-decision.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@nestjs/*',
            '@nats-io/*',
            'typeorm',
            'pg',
            'node:*',
            '@runforge/messaging',
            '@runforge/service',
            '@runforge/telemetry',
            './*.service',
            './*.consumer',
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Decisions take no clock: the worker times.' },
        { object: 'Math', property: 'random', message: 'Decisions are deterministic.' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date']", message: 'No clock here.' }],
    },
  },
  {
    // The dashboard (browser code: Preact + TSX, its own tsconfig with the DOM lib): the same typed rules.
    files: ['apps/gateway/web/src/**/*.tsx'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
  {
    // The dashboard reads the API's shapes from @runforge/contracts as types only: a value import
    // would bundle server code (node:crypto, the zod schemas) into the browser.
    files: ['apps/gateway/web/src/**/*.ts', 'apps/gateway/web/src/**/*.tsx'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@runforge/*'],
              allowTypeImports: true,
              message: 'The dashboard imports only types from our libs.',
            },
          ],
        },
      ],
    },
  },
  {
    // The scheduler's core is pure: the clock is injected, so tests drive DST changes and outages without waiting.
    files: ['libs/scheduling/src/cadence.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@nestjs/*',
            '@nats-io/*',
            'typeorm',
            'pg',
            'node:*',
            '@runforge/messaging',
            '@runforge/read-models',
            '@runforge/service',
          ],
        },
      ],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Inject time: pass `now`.' }],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Inject time.' },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { ...globals.node } },
  },
);
