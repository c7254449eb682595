// salesforce-pubsub-api-client against the simulated org's Pub/Sub API, driven by
// pubsub_conformance_test.go: each line on stdout is one JSON object the test reads.
//
//   {"step":"subscribed"}                    the live subscription is sent (the test then creates and
//                                            updates an Account)
//   {"step":"live","event":{...}}            each event of the live subscription
//   {"step":"replayed","event":{...}}        each event replayed from the earliest
//   {"step":"refused","error":"..."}         the unknown topic's error
//   {"step":"done"}
import PubSubApiClient from 'salesforce-pubsub-api-client';

const { PUBSUB_ENDPOINT, SF_ACCESS_TOKEN, SF_INSTANCE_URL } = process.env;
const log = (...a) => process.env.PUBSUB_DEBUG && process.stderr.write(a.map(String).join(' ') + '\n');
const quiet = { debug: log, info: log, warn: log, error: log };
const say = (o) => process.stdout.write(JSON.stringify(o, (k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
const fail = (why) => {
    say({ step: 'failed', error: String(why && why.stack ? why.stack : why) });
    process.exit(1);
};
const timeout = setTimeout(() => fail('timed out'), 60_000);

// The org's certificate is self-signed: the client is told not to check it (its own option),
// everything else is as it would be against Salesforce.
const newClient = () =>
    new PubSubApiClient(
        {
            authType: 'user-supplied',
            accessToken: SF_ACCESS_TOKEN,
            instanceUrl: SF_INSTANCE_URL,
            pubSubEndpoint: PUBSUB_ENDPOINT,
            rejectUnauthorizedSsl: false
        },
        quiet
    );

const summary = (e) => ({
    replayId: e.replayId,
    changeType: e.payload.ChangeEventHeader.changeType,
    recordIds: e.payload.ChangeEventHeader.recordIds,
    changedFields: e.payload.ChangeEventHeader.changedFields,
    name: e.payload.Name
});

// Collects n events of one subscription, then resolves.
function collect(step, subscribe, n) {
    return new Promise((resolve, reject) => {
        const got = [];
        subscribe((sub, type, data) => {
            if (type === 'event') {
                got.push(data);
                say({ step, event: summary(data) });
                if (got.length === n) resolve(got);
            } else if (type === 'error') {
                reject(data);
            }
        });
    });
}

try {
    const client = newClient();
    await client.connect();
    // The test waits for "subscribed", then makes a CREATE and an UPDATE.
    const live = collect('live', (cb) => client.subscribe('/data/AccountChangeEvent', cb, 2), 2);
    say({ step: 'subscribed' });
    await live;
    client.close();
    // A replay needs a new subscription (the client reuses an open one, whose start is fixed).
    const replay = newClient();
    await replay.connect();
    await collect('replayed', (cb) => replay.subscribeFromEarliestEvent('/data/AccountChangeEvent', cb, 2), 2);
    replay.close();
    const other = newClient();
    await other.connect();
    const refused = await new Promise((resolve) => {
        other.subscribe('/data/NoSuchObjectChangeEvent', (sub, type, data) => {
            if (type === 'error') resolve(data);
            if (type === 'event') resolve(new Error('an unknown topic delivered an event'));
        }, 1);
    });
    say({ step: 'refused', error: String(refused.details || refused.message), code: refused.code });
    other.close();
    clearTimeout(timeout);
    say({ step: 'done' });
    process.exit(0);
} catch (e) {
    fail(e);
}
