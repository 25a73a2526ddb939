import { ConfigError, formatIssue } from '../errors.js';
import { loadConfig } from '../config/load.js';

/** `relay validate`: OK and warnings, or every error; exit code 1 on errors. */
export async function validate(file: string): Promise<void> {
  try {
    const config = await loadConfig(file);
    for (const w of config.warnings) console.log(formatIssue(w));
    console.log(`OK ${file}: ${config.sources.size} source(s), ${config.rules.rules.length} rule(s)`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) console.error(formatIssue(issue));
    console.error(`${err.issues.length} error(s) in ${file}`);
    process.exitCode = 1;
  }
}
