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
