/** The bank on a platform whose store does not check fencing tokens. */
import { defineApp } from 'spive';
import bank from '../../bank/app.ts';

export default defineApp({ ...bank, name: 'bank-unfenced-writer', simulation: { mutations: ['skip-fencing'] } });
