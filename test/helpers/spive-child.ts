/** `bin/spive.js` as a real child process, for the tests of commands that talk to a running `spive run`. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface Child {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
}

/** Starts `spive <args>` with `stdin` as its whole input. */
export function startSpive(args: readonly string[], stdin?: string): Child {
  const child = spawn(process.execPath, ['bin/spive.js', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin?.end(stdin ?? '');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

/** Waits until `test` holds; on timeout, fails with what `child` printed. */
export async function until(test: () => boolean | Promise<boolean>, what: string, child: Child, timeoutMs = 60_000): Promise<void> {
  for (let waited = 0; !(await test()); waited += 50) {
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}; it printed:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs `spive <args>` to its end. */
export function spive(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/spive.js', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `spive run <app> --store <store>` with an ingress on a free port; resolves once it listens, with its endpoint. */
export async function startRun(app: string, store: string): Promise<{ run: Child; endpoint: string }> {
  const run = startSpive(['run', app, '--store', store, '--port', '0', '--status-every', '1h']);
  await until(() => /Ctrl-C stops/.test(run.output()), 'spive run to listen', run);
  const endpoint = (/ingress: POST (http:\/\/[^/]+)\//.exec(run.output()) as RegExpExecArray)[1] as string;
  return { run, endpoint };
}

/** Kills a child still running (a test's clean-up after a failure). */
export async function killIfRunning(child: Child | undefined): Promise<void> {
  if (child === undefined || child.child.exitCode !== null) return;
  child.child.kill('SIGKILL');
  await child.exited;
}
