/* deliver/smtp-reply.ts: reading reply codes into statuses and RFC 3463 codes. Pure. */
import t from 'tap';
import { basicCode, enhancedCode, oneLine, outcomeFromReply, soften, statusOfCode } from '../../../gateway/src/deliver/smtp-reply.js';

t.test('codes', async (t) => {
  t.equal(basicCode('250 2.0.0 Ok'), 250);
  t.equal(basicCode('550-5.1.1 first\n550 5.1.1 second'), 550);
  t.equal(basicCode('garbage'), 0);
  t.equal(enhancedCode('550 5.1.1 <x>: Recipient address rejected'), '5.1.1');
  t.equal(enhancedCode('450 4.2.0 greylisted'), '4.2.0');
  t.equal(enhancedCode('550 4.1.1 wrong class'), '5.0.0', 'basic code decides the class');
  t.equal(enhancedCode('554 no enhanced code'), '5.0.0');
  t.equal(enhancedCode('421 Service not available'), '4.0.0');
  t.equal(enhancedCode('garbage'), '4.0.0');
  t.equal(soften('5.7.1'), '4.7.1');
  t.equal(soften('4.4.1'), '4.4.1');
  t.equal(statusOfCode(250), 'delivered');
  t.equal(statusOfCode(452), 'deferred');
  t.equal(statusOfCode(554), 'bounced');
  t.equal(oneLine('550-5.1.1 line one\n550 5.1.1 line two'), '550-5.1.1 line one 550 5.1.1 line two');
});

t.test('outcomes from replies', async (t) => {
  t.same(outcomeFromReply('a@x.test', 'mx[192.0.2.1]:25', 'mx[192.0.2.1]', '550 5.1.1 <a@x.test>: no such user', 'RCPT TO'), {
    recipient: 'a@x.test', status: 'bounced', dsn: '5.1.1', relay: 'mx[192.0.2.1]:25',
    response: 'host mx[192.0.2.1] said: 550 5.1.1 <a@x.test>: no such user (in reply to RCPT TO command)',
  });
  t.match(outcomeFromReply('a', 'r', 'h', '451 4.3.0 try later', 'end of DATA'), { status: 'deferred', dsn: '4.3.0' });
  t.match(outcomeFromReply('a', 'r', 'h', '503 5.5.1 Error: need MAIL command', 'RCPT TO'), { status: 'deferred', dsn: '4.5.1' }, '503 is our sequence problem, not the recipient');
});
