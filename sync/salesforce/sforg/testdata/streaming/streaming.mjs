// Streaming clients nobody here wrote, against the simulated org: jsforce's streaming API (its faye
// client, as conn.streaming.topic(...).subscribe uses it, and its replay extension) and the official
// CometD JavaScript client. Run by streaming_conformance_test.go; prints "PASS n steps" at the end.
import { createRequire } from 'node:module';
import { adapt } from 'cometd-nodejs-client';
import { CometD } from 'cometd';

const require = createRequire(import.meta.url);
const jsforce = require('jsforce');
const { StreamingExtension } = require('jsforce/api/streaming');

const loginUrl = process.env.SF_LOGIN_URL || 'http://127.0.0.1:7777';
const steps = [];
const step = (s) => { steps.push(s); console.log('ok', s); };

// until resolves with cond()'s first truthy value, or fails after ms.
const until = (what, ms, cond) => new Promise((resolve, reject) => {
  const started = Date.now();
  const tick = () => {
    const v = cond();
    if (v) return resolve(v);
    if (Date.now() - started > ms) return reject(new Error(`${what}: not within ${ms} ms`));
    setTimeout(tick, 5);
  };
  tick();
});
const withTimeout = (what, ms, p) => Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
const ids = (m) => m.payload.ChangeEventHeader.recordIds;

(async () => {
  const conn = new jsforce.Connection({ oauth2: { loginUrl, clientId: 'pgforce-demo', clientSecret: 'pgforce-demo-secret' }, version: '62.0' });
  await conn.login('admin@pgforce.test', 'demo');
  const channel = '/data/AccountChangeEvent';

  // 1. jsforce's topic subscription: faye batches its subscribe with a connect (advice.timeout 0);
  //    the subscription is acknowledged at once, not after a 110 s long poll.
  const seen = [];
  let started = Date.now();
  const sub = conn.streaming.topic(channel).subscribe((m) => seen.push(m));
  await withTimeout('subscription acknowledged', 10000, sub);
  step(`jsforce subscription to ${channel} acknowledged in ${Date.now() - started} ms`);

  // 2. A change arrives within 2 s.
  started = Date.now();
  const acct = await conn.sobject('Account').create({ Name: 'jsforce streaming' });
  const created = await until('the CREATE event', 2000, () => seen.find((m) => ids(m).includes(acct.id)));
  const h = created.payload.ChangeEventHeader;
  if (h.changeType !== 'CREATE' || h.changedFields.length !== 0 || created.payload.Name !== 'jsforce streaming' || !(created.event.replayId > 0)) {
    throw new Error('CREATE event: ' + JSON.stringify(created));
  }
  step(`CREATE event ${created.event.replayId} in ${Date.now() - started} ms, origin ${h.changeOrigin}`);

  // 3. Two more changes; a new client replays from the stored replay id with jsforce's replay
  //    extension and gets exactly those, in order.
  const stored = created.event.replayId;
  await conn.sobject('Account').update({ Id: acct.id, Name: 'renamed once' });
  await conn.sobject('Account').update({ Id: acct.id, Name: 'renamed twice' });
  await until('the two UPDATE events', 5000, () => seen.filter((m) => ids(m).includes(acct.id)).length === 3);
  const later = seen.filter((m) => ids(m).includes(acct.id)).slice(1).map((m) => m.event.replayId);
  const replayed = [];
  const replayClient = conn.streaming.createClient([new StreamingExtension.Replay(channel, stored)]);
  await withTimeout('replay subscription acknowledged', 10000, replayClient.subscribe(channel, (m) => replayed.push(m)));
  await until('the replayed events', 5000, () => replayed.length >= 2);
  const got = replayed.map((m) => m.event.replayId);
  if (JSON.stringify(got.slice(0, 2)) !== JSON.stringify(later) || replayed[1].payload.Name !== 'renamed twice' ||
      !replayed[0].payload.ChangeEventHeader.changedFields.includes('LastModifiedDate')) {
    throw new Error(`replayed ${JSON.stringify(got)} after ${stored}, want ${JSON.stringify(later)}`);
  }
  step(`replay after stored replay id ${stored}: ${got.join(', ')}`);

  // 4. Replay -2: every retained event, the CREATE first among this record's.
  const all = [];
  const allClient = conn.streaming.createClient([new StreamingExtension.Replay(channel, -2)]);
  await withTimeout('replay -2 subscription', 10000, allClient.subscribe(channel, (m) => all.push(m)));
  await until('all retained events', 5000, () => all.filter((m) => ids(m).includes(acct.id)).length === 3);
  step(`replay -2: ${all.length} retained events`);

  // 5. The official CometD client (appending /handshake, /connect... to the URL) subscribes and receives.
  adapt();
  const cometd = new CometD();
  cometd.unregisterTransport('websocket');
  cometd.configure({ url: conn.instanceUrl + '/cometd/62.0', requestHeaders: { Authorization: 'OAuth ' + conn.accessToken }, appendMessageTypeToURL: true, logLevel: 'warn' });
  const contacts = [];
  await withTimeout('cometd handshake and subscription', 10000, new Promise((resolve, reject) => {
    cometd.handshake((hs) => {
      if (!hs.successful) return reject(new Error('cometd handshake: ' + JSON.stringify(hs)));
      cometd.subscribe('/data/ContactChangeEvent', (m) => contacts.push(m.data), (s) => (s.successful ? resolve() : reject(new Error('cometd subscribe: ' + JSON.stringify(s)))));
    });
  }));
  started = Date.now();
  const contact = await conn.sobject('Contact').create({ LastName: 'CometD' });
  const ev = await until('the cometd event', 2000, () => contacts.find((m) => ids(m).includes(contact.id)));
  step(`cometd client: ${ev.payload.ChangeEventHeader.changeType} Contact event ${ev.event.replayId} in ${Date.now() - started} ms`);

  // 6. Subscribing to an object not selected for Change Data Capture is refused as Salesforce does.
  const refused = await withTimeout('refusal', 10000, new Promise((resolve) => {
    cometd.subscribe('/data/NotAnObject__ChangeEvent', () => {}, (s) => resolve(s));
  }));
  if (refused.successful || !String(refused.error).includes('does not exist')) throw new Error('refusal: ' + JSON.stringify(refused));
  step(`unknown channel refused: ${refused.error}`);

  await new Promise((resolve) => cometd.disconnect(resolve));
  for (const c of [replayClient, allClient]) c.disconnect();
  sub.cancel();
  console.log('PASS ' + steps.length + ' steps');
  process.exit(0);
})().catch((e) => { console.error('FAIL', (e && e.stack) || e); process.exit(1); });
