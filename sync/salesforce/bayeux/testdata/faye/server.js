// faye's Node server, a Bayeux server nobody here wrote, for faye_test.go to run pgforce's Bayeux
// client against. TIMEOUT (seconds) is its long poll and, doubled, how long it keeps a silent client;
// INTERVAL (seconds) the interval it advises between connects. A control API beside the Bayeux
// endpoint lets the test act on the server:
//   POST /control/publish?channel=C  body: JSON data    publish to C
//   POST /control/drop                                  cut every open connection (a network failure)
//   POST /control/forget                                forget every client (their next connect: 401::Unknown client)
//   POST /control/refuse                                answer the next connect unsuccessful with advice reconnect "none"
//   GET  /control/stats                                 {handshakes, arrivals, holding (the newest connect unanswered), connects: [[arrived, answered ms], ...]}
const http = require('http');
const faye = require('faye');

const timeout = parseFloat(process.env.TIMEOUT || '45');
const interval = parseFloat(process.env.INTERVAL || '0');
const bayeux = new faye.NodeAdapter({ mount: '/cometd/62.0', timeout, engine: { interval } });

const clients = new Set();
const stats = { handshakes: 0, arrivals: 0, connects: [], holding: false };
let latest = ''; // the newest connect received
const arrived = new Map(); // connect message id → arrival time
let refuse = false;
// Only HTTP clients count: with three parameters faye passes the HTTP request, none for its own
// in-process publisher.
bayeux.addExtension({
  incoming(message, request, callback) {
    if (message.channel === '/meta/connect' && request) {
      stats.arrivals++;
      latest = message.clientId + '/' + message.id;
      stats.holding = true;
      arrived.set(latest, Date.now());
    }
    callback(message);
  },
  outgoing(message, request, callback) {
    if (message.channel === '/meta/handshake' && message.successful && request) {
      stats.handshakes++;
      clients.add(message.clientId);
    }
    if (message.channel === '/meta/connect' && request) {
      const key = message.clientId + '/' + message.id;
      stats.connects.push([arrived.get(key) || 0, Date.now()]);
      if (key === latest) stats.holding = false;
      if (refuse) {
        refuse = false;
        message.successful = false;
        message.error = '403::Forbidden';
        message.advice = { reconnect: 'none' };
      }
    }
    callback(message);
  },
});

const sockets = new Set();
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const done = (status, body) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(body || {})); };
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    switch (url.pathname) {
      case '/control/publish':
        bayeux.getClient().publish(url.searchParams.get('channel'), JSON.parse(body || '{}')).then(() => done(200), (e) => done(500, { error: String(e) }));
        return;
      case '/control/drop': {
        const mine = req.socket;
        done(200);
        for (const s of sockets) if (s !== mine) s.destroy();
        return;
      }
      case '/control/forget':
        for (const id of clients) bayeux._server._engine.destroyClient(id);
        clients.clear();
        return done(200);
      case '/control/refuse':
        refuse = true;
        return done(200);
      case '/control/stats':
        return done(200, stats);
    }
    done(404, { error: 'no such control ' + url.pathname });
  });
});
server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
bayeux.attach(server);
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
