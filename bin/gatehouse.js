#!/usr/bin/env node
// `npx gatehouse …` runs the compiled CLI; `npm start` / `npm test` build it first.
import '../dist/cli.js';
