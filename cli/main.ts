/**
 * The `spive` command line. Each command lives in cli/commands/; this file wires them into commander
 * and maps failures onto the exit codes of the command-line contract (DESIGN.md §5).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isSpiveError } from '../src/model/errors.ts';
import { registerAppend } from './commands/append.ts';
import { registerDataset } from './commands/dataset.ts';
import { registerDemo } from './commands/demo.ts';
import { registerFuzz } from './commands/fuzz.ts';
import { registerImport } from './commands/import.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerReplay } from './commands/replay.ts';
import { registerReplayPlan } from './commands/replay-plan.ts';
import { registerRun } from './commands/run.ts';
import { registerSimulate } from './commands/simulate.ts';
import { registerStore } from './commands/store.ts';
import { EXIT_INTERNAL, EXIT_USAGE, UsageError } from './exit-codes.ts';
import type { Streams } from './output.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Commands record their exit code here (0 unless they found a problem). */
export interface CommandContext {
  readonly streams: Streams;
  exitCode: number;
}

export function buildProgram(context: CommandContext): Command {
  const program = new Command('spive')
    .description('Event sourcing for the masses: processes over keyed streams, a deterministic simulator, cost-based replay.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .showSuggestionAfterError(true)
    // Program options (-V, --version) only before a command: `spive store read … --version V` is the command's own.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.streams.stdout.write(text),
      writeErr: (text) => context.streams.stderr.write(text),
    });
  registerDemo(program, context);
  registerRun(program, context);
  registerSimulate(program, context);
  registerFuzz(program, context);
  registerAppend(program, context);
  registerStore(program, context);
  registerReplayPlan(program, context);
  registerReplay(program, context);
  registerDataset(program, context);
  registerImport(program, context);
  registerInspect(program, context);
  // Every subcommand inherits the same error handling and output streams.
  for (const command of program.commands) applyCommonSettings(command, context);
  return program;
}

function applyCommonSettings(command: Command, context: CommandContext): void {
  command.exitOverride().showSuggestionAfterError(true).configureOutput({
    writeOut: (text) => context.streams.stdout.write(text),
    writeErr: (text) => context.streams.stderr.write(text),
  });
  for (const sub of command.commands) applyCommonSettings(sub, context);
}

export async function main(argv: readonly string[], streams: Streams = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const context: CommandContext = { streams, exitCode: 0 };
  const program = buildProgram(context);
  if (argv.length <= 2) {
    streams.stderr.write(program.helpInformation());
    streams.stderr.write('spive: missing command\n');
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv]);
    return context.exitCode;
  } catch (e) {
    return reportFailure(e, streams);
  }
}

function reportFailure(e: unknown, streams: Streams): number {
  if (e instanceof CommanderError) {
    // commander already printed its one-line message (or the help/version text).
    return e.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (e instanceof UsageError || isSpiveError(e)) {
    streams.stderr.write(`spive: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  streams.stderr.write(`spive: internal error (this is a bug in Spive; please report it):\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT_INTERNAL;
}
