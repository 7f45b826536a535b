/**
 * Command-line arguments of the bench scripts: `node:util` `parseArgs` with a
 * `--help` and with a user's mistake reported as a user's mistake. `parseArgs`
 * throws a TypeError on an unknown option (a stack trace for a typo) and has
 * no help; here `--help`/`-h` prints the script's usage and exits 0, and an
 * unknown option, a missing or unexpected value, or a value that is not the
 * number an option expects prints one line naming the option and what was
 * expected, then the usage, and exits 2.
 */
import { basename } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The options of one script, as `parseArgs` takes them. */
type Options = NonNullable<ParseArgsConfig['options']>;

/** What a script declares beside its options. */
export interface BenchArgsConfig<O extends Options> {
  /** The script's usage line(s), printed by `--help` and after a mistake. */
  readonly usage: string;
  readonly options: O;
  /** Whether the script takes positional arguments (spec files, …). */
  readonly allowPositionals?: boolean;
  /** Options whose value must be a finite number. */
  readonly numbers?: readonly (keyof O & string)[];
  /** Options whose value must be a comma-separated list of finite numbers. */
  readonly numberLists?: readonly (keyof O & string)[];
}

/** The script's name as messages show it: `bench/deadline`. */
const scriptName = (): string => `bench/${basename(process.argv[1] ?? 'bench').replace(/\.[cm]?[jt]s$/, '')}`;

/** A bench script's parsed command line. */
export interface BenchArgs<O extends Options> {
  readonly values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: boolean }>>['values'];
  readonly positionals: string[];
}

/** The usage of this process's script, set by {@link benchArgs}: a script has one command line. */
let usage = 'usage: see the comment at the top of the script\n';

/**
 * Reports a mistake in the command line — `message` names the option and what
 * was expected — with the usage, and exits 2. For a script's own checks after
 * {@link benchArgs} (a required option, an unknown case name). A function
 * declaration, so that TypeScript narrows after a call to it.
 */
export function usageError(message: string): never {
  process.stderr.write(`${scriptName()}: ${message}\n${usage}`);
  process.exit(2);
}

/** Parses `process.argv` for a bench script (see the module comment). */
export function benchArgs<O extends Options>(config: BenchArgsConfig<O>): BenchArgs<O> {
  usage = `usage:\n${config.usage.replace(/^\n+|\s+$/g, '')}\n`;
  const argv = process.argv.slice(2);
  // Before parsing: `--help` wins over any mistake beside it.
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    process.exit(0);
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: config.options, allowPositionals: config.allowPositionals ?? false, strict: true });
  } catch (err) {
    usageError(describe(err, config.options));
  }
  const notNumber = (v: string) => v.trim() === '' || !Number.isFinite(Number(v));
  for (const name of config.numbers ?? []) {
    const value = parsed.values[name];
    if (typeof value === 'string' && notNumber(value)) usageError(`--${name}: expected a number, got ${JSON.stringify(value)}`);
  }
  for (const name of config.numberLists ?? []) {
    const value = parsed.values[name];
    if (typeof value === 'string' && value.split(',').some(notNumber)) usageError(`--${name}: expected a comma-separated list of numbers, got ${JSON.stringify(value)}`);
  }
  return { values: parsed.values as never, positionals: parsed.positionals };
}

/** One line for a `parseArgs` error: the option and what was expected. */
function describe(err: unknown, options: Options): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1] ?? message;
    const known = Object.keys(options).map((o) => `--${o}`);
    return `unknown option ${option} (expected one of ${[...known, '--help'].join(', ')})`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return message;
  // Not a command-line mistake: a defect, with its stack.
  throw err;
}
