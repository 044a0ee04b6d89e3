// Three tiers, by file suffix (see STYLE.md): each runs alone with --selectProjects.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];
const common = {
  testEnvironment: 'node',
  // pixelmatch is an ES module only: compiled to CommonJS like our sources (jest on Node 20 cannot
  // require an ES module).
  transform: { '^.+\\.ts$': swc, '/node_modules/pixelmatch/.+\\.js$': swc },
  transformIgnorePatterns: ['/node_modules/(?!pixelmatch/)'],
  moduleNameMapper: {
    '^@runforge/telemetry/start$': '<rootDir>/libs/telemetry/src/start.ts',
    '^@runforge/([a-z-]+)$': '<rootDir>/libs/$1/src/index.ts',
  },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/**/*.unit.spec.ts'] },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/**/*.int.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/timeouts.int.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/**/*.e2e.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/timeouts.e2e.ts'],
    },
  ],
};
