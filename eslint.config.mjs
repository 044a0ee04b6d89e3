// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';

/** What the services' shell is made of: a pure core imports none of it. */
const SHELL = [
  '@nestjs/*',
  '@nats-io/*',
  'typeorm',
  'pg',
  'node:*',
  '@runforge/messaging',
  '@runforge/service',
  '@runforge/read-models',
];

/**
 * A deterministic core: no frameworks or I/O (`imports` adds to the shell), no `Date.now()`,
 * `new Date()` or `Math.random()` (`anyDate`: no `new Date(…)` at all).
 */
function pureCore(name, files, { imports = [], clock, anyDate = false }) {
  return {
    name: `runforge/pure-core/${name}`,
    files,
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...SHELL, ...imports] }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: clock },
        { object: 'Math', property: 'random', message: `${name}: no ambient randomness; use a seeded generator.` },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: anyDate
            ? "NewExpression[callee.name='Date']"
            : "NewExpression[callee.name='Date'][arguments.length=0]",
          message: clock,
        },
      ],
    },
  };
}

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
  // The deterministic cores: none of the shell's frameworks or I/O, no ambient clock or randomness.
  pureCore('The engine', ['libs/engine/src/**/*.ts'], {
    imports: ['fs', 'net', 'http'],
    clock: 'Inject time; the engine is deterministic.',
  }),
  // The worker's attempt decisions: the consumer reads the run, this decides, the consumer acts.
  pureCore('Decisions', ['apps/engine-worker/src/runs/attempt-decision.ts'], {
    imports: ['@runforge/telemetry', './*.service', './*.consumer'],
    clock: 'Decisions take no clock: the worker times.',
    anyDate: true,
  }),
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
              group: ['@runforge/*', '!@runforge/client'],
              allowTypeImports: true,
              message: 'The dashboard imports only types from our libs (and the typed client, made for browsers).',
            },
          ],
        },
      ],
    },
  },
  {
    // Program kinds: the process side of a user's program is plain Node; the worker's shell wires it in.
    name: 'runforge/programs-plain-node',
    files: ['apps/engine-worker/src/programs/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...SHELL.filter((p) => p !== 'node:*'), '../*'] }],
    },
  },
  // The scheduler's cadences: the clock is injected, so tests drive DST changes and outages without waiting.
  pureCore('Cadences', ['libs/scheduling/src/cadence.ts'], { clock: 'Inject time: pass `now`.' }),
  pureCore('Calendar windows', ['libs/calendar/src/**/*.ts'], { clock: 'Inject time: pass the instant.' }),
  // The energy models: LP text in, schedule out. HiGHS times itself; timestamps come from the input.
  pureCore('Energy models', ['libs/energy/src/**/*.ts'], {
    imports: ['fs', 'net', 'http'],
    clock: 'Inject time: the energy models read instants from their input.',
  }),
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { ...globals.node } },
  },
);
