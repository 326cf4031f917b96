interface Log {
  error(meta: object, message: string): void;
  fatal(meta: object, message: string): void;
}

/**
 * A forgotten rejection is logged, never fatal: by Node's default it would end the process and
 * every deployment running in it. An uncaught exception leaves the process in an unknown state, so
 * it is logged and the process exits on purpose (its supervisor starts it again).
 */
export function guardProcess(log: Log, role: string): void {
  process.on('unhandledRejection', (reason) => log.error({ role, err: reason }, 'unhandled promise rejection (ignored)'));
  process.on('uncaughtException', (err) => {
    log.fatal({ role, err }, 'uncaught exception; exiting');
    process.exit(70);
  });
}
