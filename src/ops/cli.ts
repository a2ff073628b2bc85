import { parseArgs } from 'node:util';

/** What a command says about itself on --help. */
export interface CommandHelp {
  /** The name in messages: `wecom-gateway`, `doctor`, `bench`… */
  name: string;
  usage: string;
  /** The rest of the help: what it does, the variables it reads, its exit codes. */
  text: string;
}

/** A mistake on the command line: one line, and this exit code (EX_USAGE, as sysexits.h names it). */
export const EXIT_USAGE = 64;

/** Node's parseArgs messages are paragraphs; the first sentence, with the option quoted, is the whole story. */
function oneLine(error: Error): string {
  const quoted = /'([^']+)'/.exec(error.message)?.[1];
  if ((error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) return `unknown option ${quoted}`;
  if ((error as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted) return `unexpected argument ${quoted}`;
  return error.message.split(/\.\s/)[0]!;
}

/**
 * The command line of every operator command, read the same way: --help (or -h)
 * prints the help and exits 0; anything it does not know is one line on stderr
 * and exit 64. Returns the positional arguments, checked by `positionals` when given.
 */
export function readCommandLine(
  help: CommandHelp,
  options: { argv?: string[]; positionals?: (args: string[]) => string | undefined } = {},
): string[] {
  const argv = options.argv ?? process.argv.slice(2);
  const fail = (problem: string): never => {
    process.stderr.write(`${help.name}: ${problem} (see --help)\n`);
    process.exit(EXIT_USAGE);
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' } },
      allowPositionals: options.positionals !== undefined,
      strict: true,
    });
  } catch (error) {
    return fail(oneLine(error as Error));
  }
  if (parsed.values.help) {
    process.stdout.write(`usage: ${help.usage}\n\n${help.text.trim()}\n`);
    process.exit(0);
  }
  const problem = options.positionals?.(parsed.positionals);
  if (problem) fail(problem);
  return parsed.positionals;
}
