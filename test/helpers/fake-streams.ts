import { Writable } from 'node:stream';

/** stdout/stderr stand-ins that record what a command printed. */
export function fakeStreams(tty = false) {
  const chunks = { stdout: '', stderr: '' };
  const make = (name: 'stdout' | 'stderr') =>
    Object.assign(
      new Writable({
        write(chunk, _encoding, done) {
          chunks[name] += String(chunk);
          done();
        },
      }),
      { isTTY: tty },
    );
  return { streams: { stdout: make('stdout'), stderr: make('stderr') }, output: chunks };
}

/** Runs the `spive` command line in process with fake streams; returns the exit code and what it printed. */
export async function runCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../cli/main.ts');
  const { streams, output } = fakeStreams();
  const code = await main(['node', 'spive', ...args], streams);
  return { code, ...output };
}
