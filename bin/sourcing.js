#!/usr/bin/env node
// `npx sourcing …` from the repository: registers tsx (a dependency) in this process, then runs the CLI
// written in TypeScript. One process, so signals (Ctrl-C, kill) reach the job runner itself.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
