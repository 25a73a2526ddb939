// The issues of the ConfigError a compile step throws; fails the test when it throws nothing or something else.
import { expect } from 'vitest';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';

export function issuesOf(fn: () => unknown): ConfigIssue[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}
