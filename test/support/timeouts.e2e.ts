// Per-project testTimeout is not applied by jest's project runner; set it where the tests run.
jest.setTimeout(120_000);
