/**
 * How commands talk: with `--json`, exactly one JSON object on stdout and nothing else there;
 * human text otherwise. Progress goes to stderr, and only when stderr is a terminal.
 */
export interface Output {
  readonly json: boolean;
  /** Human-readable line on stdout (suppressed in --json mode). */
  line(text?: string): void;
  /** The one JSON result (printed only in --json mode). */
  result(value: unknown): void;
  /** Transient progress on stderr, only on a TTY. */
  progress(text: string): void;
  /** A warning on stderr (always). */
  warn(text: string): void;
}

export interface Streams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function makeOutput(json: boolean, streams: Streams): Output {
  const tty = streams.stderr.isTTY === true;
  let progressShown = false;
  const clearProgress = () => {
    if (progressShown) streams.stderr.write('\r\x1b[K');
    progressShown = false;
  };
  return {
    json,
    line(text = '') {
      if (json) return;
      clearProgress();
      streams.stdout.write(`${text}\n`);
    },
    result(value) {
      if (json) streams.stdout.write(`${JSON.stringify(value)}\n`);
    },
    progress(text) {
      if (!tty) return;
      streams.stderr.write(`\r\x1b[K${text}`);
      progressShown = true;
    },
    warn(text) {
      clearProgress();
      streams.stderr.write(`spive: warning: ${text}\n`);
    },
  };
}
