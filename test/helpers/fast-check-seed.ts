/**
 * Imported first by every test file with fast-check properties: one seed
 * for all of the file's properties (fixed by default, KEYSMITH_SEED to
 * change or replay), printed once. A property that passes its own `seed`
 * keeps it.
 */
import fc from 'fast-check';
import { announceSeed, seedFromEnv } from './seed.js';

const seed = seedFromEnv();
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
announceSeed('fast-check', seed);
