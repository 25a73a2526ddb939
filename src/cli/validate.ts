import { ConfigError, formatIssue } from '../errors.js';
import { loadConfig } from '../config/load.js';

/**
 * `relay validate`: OK and warnings, or every error; exit code 1 on errors.
 * Unset variables are warnings naming what `relay serve` will need, so CI
 * can validate a config without its secrets.
 */
export async function validate(file: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    const config = await loadConfig(file, { env, secrets: 'optional' });
    for (const w of config.warnings) console.log(formatIssue(w));
    const needed = [...new Set(config.unset.map((m) => m.name))];
    if (needed.length > 0) console.log(`relay serve will need: ${needed.join(', ')}`);
    console.log(`OK ${file}: ${config.sources.size} source(s), ${config.rules.rules.length} rule(s)`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) (issue.severity === 'warning' ? console.log : console.error)(formatIssue(issue));
    const errors = err.issues.filter((i) => i.severity !== 'warning').length;
    console.error(`${errors} error(s) in ${file}`);
    process.exitCode = 1;
  }
}
