// The shapes of a commander subcommand's options, which profile args are checked against.
import type { OptionShape } from '@retrace/spec';
import type { Command } from 'commander';

export function optionShapes(command: Command): OptionShape[] {
  return command.options.flatMap((o) => {
    const flag = o.long ?? o.short;
    if (!flag) return [];
    return [{ flag, value: o.required ? 'required' : o.optional ? 'optional' : 'none' } satisfies OptionShape];
  });
}
