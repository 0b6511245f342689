/** The bank on a platform whose runners resend an append blindly after a lost reply. */
import { defineApp } from 'spive';
import bank from '../../bank/app.ts';

export default defineApp({ ...bank, name: 'bank-duplicate-append', simulation: { mutations: ['blind-retry'] } });
