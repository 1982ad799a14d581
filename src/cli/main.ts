#!/usr/bin/env node
// The `keysmith` command (package.json bin).
import { main } from './program.js';

process.exitCode = await main(process.argv.slice(2));
