/**
 * The key map: one table from keys to actions, so the `?` screen, the docs and the input handler
 * cannot disagree.
 */
import type { Key } from 'ink';

export type Action =
  | 'cursor-left' | 'cursor-right' | 'page-left' | 'page-right' | 'zoom-in' | 'zoom-out' | 'start' | 'end' | 'overview'
  | 'lane-up' | 'lane-down' | 'next-event' | 'previous-event' | 'follow-input' | 'follow-output' | 'back'
  | 'filter' | 'next-match' | 'previous-match' | 'clear-filter' | 'first-violation' | 'help' | 'quit';

export const KEYMAP: ReadonlyArray<{ readonly keys: string; readonly action: Action; readonly what: string }> = [
  { keys: '← →  h l', action: 'cursor-left', what: 'move the cursor one column (the window pans at the edges)' },
  { keys: 'H L  PgUp PgDn', action: 'page-left', what: 'pan half a window left / right' },
  { keys: '+ -', action: 'zoom-in', what: 'zoom in / out around the cursor (x2)' },
  { keys: 'g G', action: 'start', what: 'go to the start / end of the range' },
  { keys: '0', action: 'overview', what: 'back to the overview (the whole range)' },
  { keys: '↑ ↓  k j', action: 'lane-up', what: 'select a lane' },
  { keys: '] [  Tab', action: 'next-event', what: 'next / previous event in the selected lane' },
  { keys: 'Enter', action: 'follow-input', what: 'follow the causal chain: go to the input that produced the selected event' },
  { keys: 'o', action: 'follow-output', what: 'go to the first output the selected event produced' },
  { keys: 'Backspace', action: 'back', what: 'go back to where Enter / o / n / v came from' },
  { keys: '/', action: 'filter', what: 'filter: stream:S key:K type:T actor:A kind:K or text (Enter applies, Esc cancels)' },
  { keys: 'n N', action: 'next-match', what: 'next / previous event matching the filter' },
  { keys: 'Esc', action: 'clear-filter', what: 'clear the filter (or close this help)' },
  { keys: 'v', action: 'first-violation', what: 'jump to the first violation' },
  { keys: '?', action: 'help', what: 'show / hide this key map' },
  { keys: 'q  Ctrl-C', action: 'quit', what: 'quit' },
];

/** The action of a key press in normal mode (undefined: not bound). */
export function actionFor(input: string, key: Key): Action | undefined {
  if (key.ctrl && input === 'c') return 'quit';
  if (key.leftArrow) return key.shift ? 'page-left' : 'cursor-left';
  if (key.rightArrow) return key.shift ? 'page-right' : 'cursor-right';
  if (key.upArrow) return 'lane-up';
  if (key.downArrow) return 'lane-down';
  if (key.pageUp) return 'page-left';
  if (key.pageDown) return 'page-right';
  if (key.return) return 'follow-input';
  if (key.backspace || key.delete) return 'back';
  if (key.escape) return 'clear-filter';
  if (key.tab) return key.shift ? 'previous-event' : 'next-event';
  const byChar: Record<string, Action> = {
    h: 'cursor-left', l: 'cursor-right', H: 'page-left', L: 'page-right', '+': 'zoom-in', '=': 'zoom-in', '-': 'zoom-out',
    g: 'start', G: 'end', '0': 'overview', k: 'lane-up', j: 'lane-down', ']': 'next-event', '[': 'previous-event',
    o: 'follow-output', '/': 'filter', n: 'next-match', N: 'previous-match', v: 'first-violation', '?': 'help', q: 'quit',
  };
  return byChar[input];
}
