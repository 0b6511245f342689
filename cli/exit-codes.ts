/** The command-line contract's exit codes (DESIGN.md §5). */
export const EXIT_OK = 0;
/** The command worked and found a problem (a violation, a failed verification). */
export const EXIT_FOUND_PROBLEM = 1;
/** Bad usage or bad input: the message names the flag, file or field and what was expected. */
export const EXIT_USAGE = 2;
/** Spive itself failed (a bug): the only case that prints a stack trace. */
export const EXIT_INTERNAL = 70;

/** A usage or input mistake: printed as one line, exit 2, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}
