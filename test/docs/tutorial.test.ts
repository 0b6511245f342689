/**
 * docs/tutorial.md, executed: every block in order, as a reader would, in a fresh folder next to a
 * `spive` folder that is this clone (a symlink), so `npm install ../spive` installs it from here with
 * no network. What the markers in the Markdown mean (test/docs/markdown-blocks.ts parses them):
 *
 *   ```ts file=stock.ts            write the file (a later block with the same name replaces it); the
 *                                  .ts files written so far must type-check with Spive's tsconfig
 *   ```sh                          run with bash -e in the reader's current folder (a `cd` carries over
 *                                  to the next block); exit 0 expected, or `exit=N`; `timeout=S` bounds it
 *   ```sh background=ID ready=TXT  start it (a command that runs until Ctrl-C) and go on once its
 *                                  output shows TXT; `stop-after=TXT` is what the reader waits to see
 *                                  before pressing Ctrl-C
 *   <!-- test: ctrl-c ID -->       the reader presses Ctrl-C in that terminal: SIGINT to its process
 *                                  group, as a terminal sends it; it must stop cleanly
 *   ```sh tty=ID                   an interactive command: run in a tmux terminal (120x40) and driven
 *                                  by the key script TTY_SCRIPTS[ID] below, which is what the prose says
 *   ```text figure                 a drawing, not a command: not run
 *   ```text output[=ID]            an output excerpt: every line must match a line of what the block
 *                                  (the previous command, or the one with that id) printed — numbers,
 *                                  hashes and column widths may differ
 *
 * Any other block fails the test: a block the tutorial shows is a block the test runs.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.ts';
import { type CodeBlock, markdownSteps, missingExcerptLines, type Step } from './markdown-blocks.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const TUTORIAL = join(ROOT, 'docs/tutorial.md');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const DEFAULT_TIMEOUT_S = 120;

/** What each command must print, beyond its exit code and the excerpts shown in the tutorial. */
const CHECKS: Record<string, (output: string) => void> = {
  setup: (out) => expect(out).toMatch(/added \d+ packages?/),
  version: (out) => expect(out.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version),
  live: (out) => {
    expect(out).toContain('email to grace@example.com: order o3 confirmed: 3 x mug');
    expect(out).toContain('email to ada@example.com: sorry, mug is out of stock (order o4)');
    expect(out).toContain('stopped cleanly');
  },
  status: (out) => {
    const status = JSON.parse(out) as { app: string; processes: { process: string; mode: string }[] };
    expect(status.app).toBe('shop');
    expect(status.processes.map((p) => p.process)).toEqual(['stock', 'mailer']);
  },
  simulate: (out) => {
    expect(out).toMatch(/^VIOLATION of "stock is never negative" at step \d+/m);
    expect(out).toMatch(/^ {2}npx spive simulate \. --seed 1 /m);
  },
  fuzz: (out) => {
    expect(out).toMatch(/^COUNTEREXAMPLE found at run \d+/m);
    expect(out).toMatch(/^VIOLATION of "stock is never negative"/m);
    expect(out).toContain(`npx spive simulate . --seed 1 --faults '{"base":"none"}' --workload '{"events":20,"keys":2,"skew":0}'`);
  },
  trace: (out) => expect(out).toContain('(trace written to run.parquet)'),
  summary: (out) => expect(out).toMatch(/1 violation\(s\); the first at step \d+ \([\d.]+ s\): stock is never negative: sku-1 has -1 on hand/),
  fixed: (out) => {
    expect(out).not.toContain('VIOLATION');
    expect(out.match(/^no violations$/gm)).toHaveLength(2);
  },
  'fuzz-fixed': (out) => expect(out).toMatch(/^no counterexample in \d+ runs/m),
  plan: (out) => {
    expect(out).toMatch(/^replay plan for stock \(src-[0-9a-f]+ → src-[0-9a-f]+\), from the beginning/m);
    expect(out).toMatch(/^chosen: shards-from-scratch/m);
    expect(out).toMatch(/^ {2}mailer \(via stock\): 3 shards/m);
    expect(out).toContain('plan written to plan.json');
  },
  replay: (out) => {
    expect(out).toMatch(/^ {2}would have done email \{"to":"grace@example.com","subject":"sorry, mug is out of stock \(order o3\)"\} \(.*, new in this version\)$/m);
    expect(out).toMatch(/^ {2}would have done email \{"to":"ada@example.com","subject":"order o4 confirmed: 1 x mug"\} \(.*, new in this version\)$/m);
  },
  'read-old': (out) => {
    expect(out).toMatch(/^ +\d+ +mug#2 +\S+ +Reserved +\{"order":"o3","sku":"mug","quantity":3,"customer":"grace@example.com","left":-2\}$/m);
    expect(out).toMatch(/^ +\d+ +mug#3 +\S+ +OutOfStock +\{"order":"o4",/m);
  },
  'read-new': (out) => {
    expect(out).toMatch(/^ +3 +mug#2 +\S+ +OutOfStock +\{"order":"o3",/m);
    expect(out).toMatch(/^ +4 +mug#3 +\S+ +Reserved +\{"order":"o4","sku":"mug","quantity":1,"customer":"ada@example.com","left":0\}$/m);
    expect(out).toMatch(/^stock at version src-[0-9a-f]{12}: 4 events$/m);
  },
  stats: (out) => expect(out).toMatch(/^ {2}stock--src-[0-9a-f]+ +\d+ events/m),
};

interface Terminal {
  send(...keys: string[]): void;
  type(text: string): void;
  until(test: (screen: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
}

/** The keys the tutorial tells the reader to press, and what the screen must show after each. */
const TTY_SCRIPTS: Record<string, (t: Terminal) => Promise<void>> = {
  inspect: async (t) => {
    // The first screen waits for node, tsx and DuckDB to start: slow on a busy machine.
    await t.until((s) => s.includes('overview') && /^stream stock +│/m.test(s) && /^violations +│/m.test(s), 'the overview', 90_000);
    t.send('v');
    await t.until((s) => /▶ .*violation \(stock is never negative\) +sku-1 has -1 on hand/.test(s), 'the violation selected');
    t.send('/');
    await t.until((s) => s.includes('Enter applies'), 'the filter prompt');
    t.type('key:sku-1 type:Reserved');
    await t.until((s) => s.includes('/key:sku-1 type:Reserved'), 'the typed filter');
    t.send('Enter');
    const first = await t.until((s) => /\d+ of [\d,]+ rows match/.test(s) && /▶ .*append stock\/sku-1@\d+ .*Reserved/.test(s), 'the filter applied');
    t.send('G');
    await t.until((s) => s !== first, 'the end of the run');
    t.send('N');
    await t.until((s) => /▶ .*append stock\/sku-1@\d+ .*Reserved/.test(s) && /effects: +performed: did email .*order o16 confirmed: 3 x sku-1/.test(s), 'the last reservation of sku-1');
    t.send('Enter');
    await t.until((s) => /▶ .*append orders\/sku-1@\d+ \(ingress\) +1 OrderPlaced/.test(s) && /→ outputs: .*append stock\/sku-1@\d+ .*Reserved/.test(s), 'the order that caused it');
    t.send('q');
    await t.until((s) => s.includes('exited 0'), 'the inspector exiting with 0');
  },
};

const steps = markdownSteps(readFileSync(TUTORIAL, 'utf8'));
const outputs = new Map<string, string>();
const background = new Map<string, { child: ChildProcess; block: CodeBlock; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }>();
const pendingExcerpts: { block: CodeBlock; ref: string }[] = [];
const tmuxSessions: string[] = [];
let work: ReturnType<typeof tempDir>;
let stateDir: string;
let lastRun: string | undefined;
let failed = false;

/** The reader's shell: bash -e in the folder the previous block left them in; a `cd` carries over. */
function shellScript(body: string, keepCwd: boolean): string {
  const cwdFile = join(stateDir, 'cwd');
  return [`cd "$(cat '${cwdFile}')"`, keepCwd ? `trap 'pwd > "${cwdFile}"' EXIT` : '', body].join('\n');
}

/** The environment of the reader's terminal: no test runner variables, npm quiet and offline. */
function readerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_offline: 'true' };
  for (const k of Object.keys(env)) if (k.startsWith('VITEST') || k === 'NODE_ENV' || k === 'TEST') delete env[k];
  return env;
}

function timeoutMs(block: CodeBlock): number {
  return Number(block.attrs.timeout ?? DEFAULT_TIMEOUT_S) * 1000;
}

function title(step: Step): string {
  if (step.kind === 'directive') return `line ${step.line}: <!-- test: ${step.words.join(' ')} -->`;
  const what = typeof step.attrs.file === 'string' ? `write ${step.attrs.file}` : (step.body.split('\n')[0] ?? '');
  return `line ${step.line}: ${step.lang} ${what}`.slice(0, 140);
}

function record(block: CodeBlock, output: string): void {
  if (typeof block.attrs.id === 'string') outputs.set(block.attrs.id, output);
  if (typeof block.attrs.tty === 'string') outputs.set(block.attrs.tty, output);
  if (typeof block.attrs.background === 'string') outputs.set(block.attrs.background, output);
  const check = CHECKS[(block.attrs.id ?? block.attrs.tty ?? block.attrs.background) as string];
  check?.(output);
  checkExcerpts();
}

/** Checks every excerpt whose command has finished. */
function checkExcerpts(): void {
  for (let i = 0; i < pendingExcerpts.length; ) {
    const { block, ref } = pendingExcerpts[i] as { block: CodeBlock; ref: string };
    const output = outputs.get(ref);
    if (output === undefined) {
      i++;
      continue;
    }
    pendingExcerpts.splice(i, 1);
    const missing = missingExcerptLines(block.body, output);
    expect(missing, `the excerpt at line ${block.line} shows lines that ${ref} did not print:\n${missing.join('\n')}\n--- it printed:\n${output}`).toEqual([]);
  }
}

async function runBlock(block: CodeBlock): Promise<void> {
  const exit = Number(block.attrs.exit ?? 0);
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', shellScript(block.body, true)], { env: readerEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), timeoutMs(block));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  expect(code, `exit code of the block at line ${block.line} (timeout ${timeoutMs(block) / 1000} s); it printed:\n${output}`).toBe(exit);
  lastRun = `line ${block.line}`;
  outputs.set(lastRun, output);
  record(block, output);
}

async function startBackground(block: CodeBlock, id: string): Promise<void> {
  const child = spawn('bash', ['-e', '-c', shellScript(block.body, false)], { env: readerEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  background.set(id, { child, block, output: () => output, exited });
  const ready = String(block.attrs.ready);
  await waitFor(() => output.includes(ready), () => `the block at line ${block.line} to print "${ready}"; it printed:\n${output}`, timeoutMs(block), exited);
}

async function ctrlC(id: string): Promise<void> {
  const bg = background.get(id);
  if (bg === undefined) throw new Error(`<!-- test: ctrl-c ${id} -->: no background block ${id} is running`);
  background.delete(id);
  const stopAfter = bg.block.attrs['stop-after'];
  if (typeof stopAfter === 'string') await waitFor(() => bg.output().includes(stopAfter), () => `${id} to print "${stopAfter}"; it printed:\n${bg.output()}`, 60_000, bg.exited);
  process.kill(-(bg.child.pid as number), 'SIGINT');
  const timer = setTimeout(() => process.kill(-(bg.child.pid as number), 'SIGKILL'), 30_000);
  const { code, signal } = await bg.exited;
  clearTimeout(timer);
  // npx passes the interrupt on and then ends by it (so does a terminal's shell): the command's own
  // verdict is what it printed.
  expect(code === 0 || signal === 'SIGINT', `${id} after Ctrl-C: exit ${code} ${signal}:\n${bg.output()}`).toBe(true);
  record(bg.block, bg.output());
}

async function runTty(block: CodeBlock, id: string): Promise<void> {
  const script = TTY_SCRIPTS[id];
  if (script === undefined) throw new Error(`line ${block.line}: no key script TTY_SCRIPTS.${id} in this test`);
  if (!hasTmux) {
    // The interactive block needs a terminal. CI must have tmux (it fails there without it); elsewhere
    // the block is skipped and said so.
    if (process.env.CI === 'true') throw new Error('tmux is needed to run the interactive block of the tutorial');
    console.warn(`tutorial line ${block.line}: skipped (no tmux)`);
    outputs.set(id, '');
    return;
  }
  const session = `spive-tutorial-${process.pid}-${id}`;
  tmuxSessions.push(session);
  const file = join(stateDir, `${id}.sh`);
  const env = readerEnv();
  const exports = ['PATH', 'HOME', 'npm_config_offline', 'npm_config_audit', 'npm_config_fund', 'npm_config_update_notifier'].map((k) => `export ${k}=${shellQuote(env[k] ?? '')}`);
  // Under CI=true the inspector must still draw its frames on a terminal (test/cli/inspect/tmux.test.ts).
  writeFileSync(file, [...exports, shellScript(block.body, false), 'echo "exited $?"', 'sleep 120', ''].join('\n'));
  execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '40', `bash ${file}`]);
  const screens: string[] = [];
  const screen = () => execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' });
  const terminal: Terminal = {
    send: (...keys) => void execFileSync('tmux', ['send-keys', '-t', session, ...keys]),
    type: (text) => void execFileSync('tmux', ['send-keys', '-t', session, '-l', text]),
    until: async (test, what, timeout = 20_000) => {
      for (const started = Date.now(); Date.now() - started < timeout; ) {
        const s = screen();
        if (test(s)) {
          screens.push(s);
          return s;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`line ${block.line}: the terminal never showed ${what}:\n${screen()}`);
    },
  };
  try {
    await script(terminal);
  } finally {
    spawnSync('tmux', ['kill-session', '-t', session]);
  }
  record(block, screens.join('\n'));
}

/** The reader's editor: the TypeScript files written so far must type-check under Spive's own settings. */
function typecheck(folder: string): void {
  const config = join(stateDir, 'tsconfig.json');
  writeFileSync(config, JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { typeRoots: [join(ROOT, 'node_modules/@types')] }, include: [join(folder, '*.ts')] }));
  const tsc = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['--noEmit', '-p', config], { encoding: 'utf8' });
  expect(tsc.status, `tsc over the tutorial's files:\n${tsc.stdout}${tsc.stderr}`).toBe(0);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function waitFor(test: () => boolean, what: () => string, timeout: number, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  for (const started = Date.now(); Date.now() - started < timeout; ) {
    if (test()) return;
    if (done) throw new Error(`it exited while waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what()}`);
}

async function runStep(step: Step): Promise<void> {
  if (step.kind === 'directive') {
    const [verb, id] = step.words;
    if (verb === 'ctrl-c' && id !== undefined) return ctrlC(id);
    throw new Error(`line ${step.line}: unknown test directive "${step.words.join(' ')}"`);
  }
  const { attrs } = step;
  if (typeof attrs.file === 'string') {
    const path = join(readFileSync(join(stateDir, 'cwd'), 'utf8').trim(), attrs.file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, step.body);
    if (attrs.file.endsWith('.ts')) typecheck(dirname(path));
    return;
  }
  if (step.lang === 'sh' && typeof attrs.background === 'string') return startBackground(step, attrs.background);
  if (step.lang === 'sh' && typeof attrs.tty === 'string') return runTty(step, attrs.tty);
  if (step.lang === 'sh') return runBlock(step);
  if (step.lang === 'text' && attrs.figure === true) return;
  if (step.lang === 'text' && attrs.output !== undefined) {
    const ref = attrs.output === true ? lastRun : attrs.output;
    if (ref === undefined) throw new Error(`line ${step.line}: an output excerpt before any command`);
    pendingExcerpts.push({ block: step, ref });
    checkExcerpts();
    return;
  }
  throw new Error(`line ${step.line}: a \`\`\`${step.lang} block the test does not run: give it file=…, make it \`\`\`sh, or an output excerpt (\`\`\`text output)`);
}

describe('docs/tutorial.md, step by step', () => {
  beforeAll(() => {
    work = tempDir('spive-tutorial-');
    stateDir = join(work.path, '.test-state');
    mkdirSync(stateDir);
    const home = join(work.path, 'home');
    mkdirSync(home);
    // The reader's clone, next to the folder the tutorial starts in.
    symlinkSync(ROOT.replace(/\/$/, ''), join(home, 'spive'));
    writeFileSync(join(stateDir, 'cwd'), home);
  });
  afterAll(async () => {
    for (const [, bg] of background) {
      process.kill(-(bg.child.pid as number), 'SIGKILL');
      await bg.exited;
    }
    for (const session of tmuxSessions) spawnSync('tmux', ['kill-session', '-t', session]);
    work.cleanup();
  });

  it('has runnable steps', () => {
    expect(steps.filter((s) => s.kind === 'code' && s.lang === 'sh').length).toBeGreaterThan(8);
  });

  for (const step of steps) {
    it(title(step), async (context) => {
      if (failed) context.skip();
      try {
        await runStep(step);
      } catch (e) {
        failed = true;
        throw e;
      }
    }, 240_000);
  }

  it('left no excerpt unchecked and no command running', () => {
    if (failed) return;
    expect(pendingExcerpts.map((p) => `line ${p.block.line} (output of ${p.ref})`)).toEqual([]);
    expect([...background.keys()]).toEqual([]);
  });
});
