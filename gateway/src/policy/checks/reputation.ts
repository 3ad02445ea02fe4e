/*
 * policy/checks/reputation.ts — mail phase: the client network's and the envelope sender
 * domain's reputation as symbols (logged with the session's decisions; the same symbols join
 * the content score after DATA, see data-stage.ts). Never refuses by itself: reputation
 * weighs, greylisting and the score decide. Runs in receiver workers.
 */
import type { Hit } from '../../core/index.js';
import { policyStores } from '../../state/index.js';
import { defineCheck } from '../check.js';
import { clientKey, look, senderDomainKey, symbolsOfLooks } from './reputation-view.js';

export const reputation = defineCheck({
  name: 'reputation',
  phase: 'mail',
  timeoutMs: 1000,
  run({ config, session, envelope, state }): Hit[] {
    if (!state || !config.reputation.enabled || session.direction !== 'inbound') return [];
    const store = policyStores(state).reputation;
    const from = senderDomainKey(envelope.mailFrom);
    const looks = [look(store, config, 'ip', clientKey(config, session.clientIp), Date.now(), session), ...(from ? [look(store, config, 'from', from, Date.now(), session)] : [])];
    return symbolsOfLooks(looks);
  },
});
