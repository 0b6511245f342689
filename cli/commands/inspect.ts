/**
 * `spive inspect <trace-or-store>`: the timeline inspector (docs/inspector.md). Interactive in a
 * terminal; `--summary` (or a stdout that is not a terminal) prints the overview once instead.
 * Exit 0; with --summary, 1 when the source records a violation (so CI can fail on it); 2 bad usage.
 */
import type { Command } from 'commander';
import { summarize, summaryText } from '../inspect/summary.ts';
import { openSource } from '../inspect/sources.ts';
import type { TimelineData } from '../inspect/timeline-data.ts';
import { EXIT_FOUND_PROBLEM, UsageError } from '../exit-codes.ts';
import type { CommandContext } from '../main.ts';
import { positiveInt } from '../options.ts';
import { makeOutput } from '../output.ts';

interface InspectCliOptions {
  summary?: boolean;
  json?: boolean;
  width?: number;
}

export function registerInspect(program: Command, context: CommandContext): void {
  program
    .command('inspect')
    .description('timeline inspector (terminal UI) for a simulation trace (.parquet) or an embedded store folder')
    .argument('<trace-or-store>', 'a trace written by `spive simulate --trace run.parquet`, or an embedded store folder')
    .option('--summary', 'print the overview once as text and exit (also what happens when stdout is not a terminal); exit 1 if it records a violation')
    .option('--json', 'with --summary: print one JSON object on stdout')
    .option('--width <columns>', 'width of the summary in columns (default: the terminal, or 120)', positiveInt('--width'))
    .addHelpText('after', '\nKeys: ? shows the key map inside the inspector; q quits. See docs/inspector.md.')
    .action(async (path: string, options: InspectCliOptions) => {
      const { stdout, stderr } = context.streams;
      const interactive = options.summary !== true && options.json !== true;
      if (interactive && stdout.isTTY !== true) {
        stderr.write('spive: stdout is not a terminal: printing the summary (pass --summary to say so and silence this note)\n');
      }
      if (interactive && stdout.isTTY === true && process.stdin.isTTY !== true) {
        throw new UsageError('inspect: the interactive inspector reads keys from a terminal, but stdin is not one; use --summary');
      }
      const data = await openSource(path);
      try {
        if (interactive && stdout.isTTY === true) {
          await runInteractive(data);
          return;
        }
        const width = options.width ?? ((stdout as { columns?: number }).columns ?? 120);
        const summary = await summarize(data, width);
        const out = makeOutput(options.json === true, context.streams);
        out.result(summary);
        for (const line of summaryText(summary, width)) out.line(line);
        if (summary.violations.length > 0) context.exitCode = EXIT_FOUND_PROBLEM;
      } finally {
        await data.close();
      }
    });
}

async function runInteractive(data: TimelineData): Promise<void> {
  // ink draws only the final frame when it believes it runs in CI (CI or CONTINUOUS_INTEGRATION set,
  // read when ink loads); a person at a terminal (stdin and stdout are TTYs here) is not a CI job, even
  // in a shell that exports CI. This process does nothing else after the inspector.
  for (const name of ['CI', 'CONTINUOUS_INTEGRATION']) if (process.env[name] !== undefined) process.env[name] = '0';
  // ink and React load only for the interactive screen: --summary stays light.
  const [{ render }, { createElement }, { Inspector }] = await Promise.all([import('ink'), import('react'), import('../inspect/app.tsx')]);
  const instance = render(createElement(Inspector, { data }), { exitOnCtrlC: false });
  await instance.waitUntilExit();
}
