import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'plugins/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests bind real ports and spawn Relay processes; two cores
    // cannot run many of them at once without timing noise.
    maxWorkers: 2,
  },
});
