// A program's command line read with commander from its flag table: the --help text generated
// from the table, the values typed by it, and every mistake a FlagError (nothing is written and
// nothing exits here: daemon.ts does that for a program, tests look at the result).
import { Command, CommanderError } from 'commander';
import { FlagError, type FlagTable, type FlagValues } from './flag.js';

export interface ProgramFlags<S extends FlagTable> {
  /** The program's name, as --help and its errors say it. */
  readonly name: string;
  /** What the program is, first in --help. */
  readonly summary: string;
  readonly flags: S;
  /** More of --help, after the flags (modes, what goes together). */
  readonly epilog?: string;
}

/** What a command line asked for: the program run with these values, or its help. */
export type ParseResult<S extends FlagTable> = { values: FlagValues<S> } | { help: string };

const HELP_WIDTH = 80; // commander's own off a terminal: the same help wherever it is read

export class FlagParser<S extends FlagTable> {
  constructor(readonly program: ProgramFlags<S>) {}

  /** The arguments after the program's name (`process.argv.slice(2)`). */
  parse(args: readonly string[]): ParseResult<S> {
    let help = '';
    // A new command each time: commander keeps the values it parsed.
    const command = new Command(this.program.name)
      .description(this.program.summary)
      .helpOption('-h, --help', 'print this help and exit')
      .exitOverride()
      .configureOutput({
        writeOut: (s) => (help += s),
        writeErr: () => undefined,
        outputError: () => undefined,
        getOutHelpWidth: () => HELP_WIDTH,
      });
    // Wrapped as commander wraps the flags (addHelpText writes its text as given).
    const epilog = this.program.epilog;
    if (epilog) command.addHelpText('after', `\n${command.createHelp().wrap(epilog, HELP_WIDTH, 0)}`);
    const flags = Object.entries(this.program.flags).map(([name, flag]) => ({ name, flag, option: flag.option(name) }));
    for (const { option } of flags) command.addOption(option);
    try {
      command.parse([...args], { from: 'user' });
    } catch (e) {
      if (!(e instanceof CommanderError)) throw e; // a FlagError of a flag's own check
      if (e.code === 'commander.helpDisplayed') return { help };
      throw new FlagError(e.message.replace(/^error: /, ''));
    }
    const extra = command.args[0];
    if (extra !== undefined)
      throw new FlagError(`unexpected argument '${extra}': ${this.program.name} takes only flags (--name VALUE)`);
    const values: Record<string, unknown> = {};
    for (const { name, flag, option } of flags)
      values[name] = flag.read(command.getOptionValue(option.attributeName()));
    return { values: values as FlagValues<S> };
  }

  /** The text of --help. */
  help(): string {
    const r = this.parse(['--help']);
    return 'help' in r ? r.help : '';
  }
}
