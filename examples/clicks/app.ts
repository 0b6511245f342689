import { defineApp, defineProcess, defineStream } from 'spive';

// Clicks from outside, keyed by user; a running count per user.
const clicks = defineStream<{ Clicked: { user: string } }>('clicks', { key: (e) => e.data.user });
const counts = defineStream<{ Counted: { clicks: number } }>('counts');

const counter = defineProcess({
  name: 'counter',
  inputs: { clicks },
  output: counts,
  initial: () => ({ clicks: 0 }),
  on: { clicks: { Clicked: (s, _e, ctx) => (ctx.emit('Counted', { clicks: s.clicks + 1 }), { clicks: s.clicks + 1 }) } },
});

export default defineApp({
  name: 'clicks',
  streams: [clicks, counts],
  processes: [counter],
  workload: { keys: 20, make: ({ key }) => ({ stream: clicks, type: 'Clicked', data: { user: key } }) },
});
