#!/usr/bin/env node
// The `runforge` command: the built CLI (apps/cli/dist, made by `npm run build`).
require('../dist/main.js').run();
