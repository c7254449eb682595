// Conformance of the simulated org with jsforce, a Salesforce client nobody here wrote.
const jsforce = require('jsforce');
const loginUrl = process.env.SF_LOGIN_URL || 'http://127.0.0.1:7777';
(async () => {
  const steps = [];
  const step = (s) => { steps.push(s); console.log('ok', s); };
  const conn = new jsforce.Connection({
    oauth2: { loginUrl, clientId: 'pgforce-demo', clientSecret: 'pgforce-demo-secret' },
    version: '62.0',
  });
  await conn.login('admin@pgforce.test', 'demo'); // OAuth 2.0 username-password flow
  step('password-flow login as ' + conn.userInfo.id);
  const g = await conn.describeGlobal();
  step('describe global: ' + g.sobjects.length + ' objects');
  const d = await conn.sobject('Account').describe();
  step('describe Account: ' + d.fields.length + ' fields');
  let r = await conn.query('SELECT Id, Name FROM Account');
  let n = r.records.length;
  while (!r.done) { r = await conn.queryMore(r.nextRecordsUrl); n += r.records.length; }
  step('query with paging: ' + n + ' accounts (totalSize ' + r.totalSize + ')');
  const all = await conn.sobject('Lead').find({}, ['Id']).execute({ autoFetch: true, maxFetch: 100000 });
  step('autoFetch: ' + all.length + ' leads');
  const c = await conn.sobject('Account').create({ Name: 'jsforce conformance' });
  if (!c.success) throw new Error('create ' + JSON.stringify(c));
  const got = await conn.sobject('Account').retrieve(c.id);
  await conn.sobject('Account').update({ Id: c.id, Name: 'jsforce renamed' });
  await conn.sobject('Account').destroy(c.id);
  step('CRUD on ' + got.Id);
  const many = await conn.sobject('Account').create([{ Name: 'jsf 1' }, { Name: 'jsf 2' }, { Name: '' }], { allOrNone: false });
  step('collections: ' + many.map(x => x.success).join(','));
  const up = await conn.sobject('Invoice__c').upsert({ External_Id__c: 'JSF-1', Amount__c: 12 }, 'External_Id__c');
  step('upsert by external id: ' + JSON.stringify(up.success));
  const rows = await conn.bulk2.query('SELECT Id, Name FROM Account');
  let bulk = 0;
  for await (const rec of rows) { bulk++; }
  step('Bulk 2.0 query: ' + bulk + ' records');
  const res = await conn.bulk2.loadAndWaitForResults({ object: 'Account', operation: 'insert', input: [{ Name: 'bulk 1' }, { Name: 'bulk 2' }] });
  step('Bulk 2.0 ingest: ' + res.successfulResults.length + ' ok, ' + res.failedResults.length + ' failed');
  console.log('PASS ' + steps.length + ' steps');
})().catch(e => { console.error('FAIL', e && e.stack || e); process.exit(1); });
