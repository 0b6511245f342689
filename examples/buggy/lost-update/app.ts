/** The bank on a platform whose runners append outputs unconditionally. */
import { defineApp } from 'spive';
import bank from '../../bank/app.ts';

export default defineApp({ ...bank, name: 'bank-lost-update', simulation: { mutations: ['unconditional-append'] } });
