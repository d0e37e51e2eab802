/** Where kafka:start keeps the jars, and by default the brokers' data and logs. */
export const KAFKA_ROOT = ".kafka";

/**
 * The --dir flag of kafka:start and kafka:stop, declared once so both agree:
 * a second broker (a fault test's own) keeps its files apart from the first.
 */
export const ROOT_FLAG = {
  type: "string",
  arg: "DIR",
  help: `folder of the brokers' data, logs and pid files (inside ${KAFKA_ROOT}/)`,
  default: KAFKA_ROOT,
} as const;
