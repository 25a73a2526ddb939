import { ConfigError, formatIssue } from '../errors.js';
import { Relay } from '../relay.js';

/** `relay serve`: runs until SIGTERM or SIGINT, then shuts down gracefully. */
export async function serve(file: string): Promise<void> {
  let relay: Relay;
  try {
    relay = await Relay.start({ configPath: file });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) console.error(formatIssue(issue));
    console.error(`relay: not started: ${err.issues.length} error(s) in ${file}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    relay.logger.info({ signal }, 'shutting down');
    // The backstop: stop() keeps within the grace, but nothing may keep the process past it.
    setTimeout(() => {
      relay.logger.error('shutdown grace over: exiting now');
      process.exit(1);
    }, relay.activeConfig.server.shutdownGraceMs).unref();
    relay.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        relay.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    relay.logger.info('SIGHUP: reloading the configuration');
    void relay.reload();
  });
}
