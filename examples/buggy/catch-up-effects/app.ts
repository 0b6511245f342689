/** The bank on a platform whose runners perform effects while catching up. */
import { defineApp } from 'spive';
import bank from '../../bank/app.ts';

export default defineApp({ ...bank, name: 'bank-catch-up-effects', simulation: { mutations: ['effects-during-catch-up'] } });
