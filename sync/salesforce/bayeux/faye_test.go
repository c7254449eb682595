package bayeux

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgforce/sync/testsignal"
)

// faye is faye's Node server (npm faye), a Bayeux server nobody here wrote, run for one test.
type faye struct {
	t   *testing.T
	url string // its Bayeux endpoint
	ctl string
}

// startFaye runs testdata/faye/server.js with a long poll of timeout and an advised interval;
// .ci/run installs faye (npm ci there). Without node or faye the test says how and skips.
func startFaye(t *testing.T, timeout, interval time.Duration) *faye {
	t.Helper()
	dir := filepath.Join("testdata", "faye")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs Node.js (node) for faye's server")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "faye")); err != nil {
		t.Skipf("needs faye: run `npm ci` in %s (.ci/run does this)", dir)
	}
	cmd := exec.Command("node", "server.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("TIMEOUT=%g", timeout.Seconds()), fmt.Sprintf("INTERVAL=%g", interval.Seconds()))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	select {
	case p := <-port:
		base := "http://127.0.0.1:" + p
		return &faye{t: t, url: base + "/cometd/62.0", ctl: base + "/control/"}
	case <-time.After(30 * time.Second):
		t.Fatal("faye's server did not start in 30 s")
	}
	return nil
}

func (f *faye) control(action string, body any) []byte {
	f.t.Helper()
	raw, _ := json.Marshal(body)
	method := http.MethodPost
	if action == "stats" {
		method = http.MethodGet
	}
	req, _ := http.NewRequest(method, f.ctl+action, strings.NewReader(string(raw)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	var out json.RawMessage
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 200 {
		f.t.Fatalf("faye control %s: %d %s", action, res.StatusCode, out)
	}
	return out
}

func (f *faye) publish(channel string, n int) {
	f.t.Helper()
	f.control("publish?channel="+channel, map[string]int{"n": n})
}

type fayeStats struct {
	Handshakes int
	Arrivals   int        // connects received
	Holding    bool       // the newest connect is not answered yet
	Connects   [][2]int64 // arrived, answered (ms)
}

// await watches the server's counters until cond holds.
func (f *faye) await(cond func(fayeStats) bool) fayeStats {
	f.t.Helper()
	var s fayeStats
	testsignal.Eventually(f.t, "faye's server to get there", 20*time.Second, func() (bool, string) {
		s = f.stats()
		return cond(s), fmt.Sprintf("%+v", s)
	})
	return s
}

func (f *faye) stats() fayeStats {
	var s fayeStats
	_ = json.Unmarshal(f.control("stats", nil), &s)
	return s
}

// run runs our client against the server until the test ends; events and subscriptions come out
// of the channels, and Run's result out of done.
type running struct {
	events     chan Event
	subscribed chan string
	done       chan error
}

func runClient(t *testing.T, url string, channels ...string) *running {
	t.Helper()
	r := &running{events: make(chan Event, 100), subscribed: make(chan string, 100), done: make(chan error, 1)}
	c := NewClient(ClientOptions{URL: url, Token: func(context.Context) (string, error) { return "token", nil },
		Backoff: func(int) time.Duration { return 20 * time.Millisecond }, OnSubscribed: func(ch string) { r.subscribed <- ch }})
	for _, ch := range channels {
		c.Subscribe(ch, -1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- c.Run(ctx, func(_ context.Context, e Event) error { r.events <- e; return nil }) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *running) waitSubscribed(t *testing.T) {
	t.Helper()
	select {
	case <-r.subscribed:
	case err := <-r.done:
		t.Fatalf("client stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no subscription acknowledged in 20 s")
	}
}

func (r *running) next(t *testing.T) int {
	t.Helper()
	select {
	case e := <-r.events:
		var d struct{ N int }
		_ = json.Unmarshal(e.Data, &d)
		return d.N
	case err := <-r.done:
		t.Fatalf("client stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no event in 20 s")
	}
	return 0
}

// Our client against faye's server: events arrive; when faye forgets the client (401::Unknown
// client, advice reconnect handshake) it handshakes again and resubscribes.
func TestOurClientHandshakesAgainWhenFayeForgetsIt(t *testing.T) {
	t.Parallel()
	f := startFaye(t, 30*time.Second, 0)
	r := runClient(t, f.url, "/data/AccountChangeEvent")
	r.waitSubscribed(t)
	f.publish("/data/AccountChangeEvent", 1)
	if n := r.next(t); n != 1 {
		t.Fatalf("event %d", n)
	}
	f.control("forget", nil)
	r.waitSubscribed(t) // after a new handshake
	f.publish("/data/AccountChangeEvent", 2)
	if n := r.next(t); n != 2 {
		t.Fatalf("event %d", n)
	}
	if s := f.stats(); s.Handshakes != 2 {
		t.Fatalf("%d handshakes, want 2", s.Handshakes)
	}
}

// A connection cut during a long poll is retried with the same client id: faye kept the session and
// its subscription, so events go on arriving without a new handshake. (faye itself loses an event
// published into the cut connection, as it has no way to know it was cut: it delivers at most once.)
func TestOurClientReconnectsAfterADroppedConnectionWithTheSameSession(t *testing.T) {
	t.Parallel()
	f := startFaye(t, 30*time.Second, 0)
	r := runClient(t, f.url, "/data/LeadChangeEvent")
	r.waitSubscribed(t)
	f.publish("/data/LeadChangeEvent", 1)
	r.next(t)
	for i := 2; i <= 4; i++ {
		// Cut the connection while faye holds the client's connect, then wait for the next one.
		before := f.await(func(s fayeStats) bool { return s.Holding }).Arrivals
		f.control("drop", nil)
		f.await(func(s fayeStats) bool { return s.Arrivals > before })
		f.publish("/data/LeadChangeEvent", i)
		if n := r.next(t); n != i {
			t.Fatalf("event %d, want %d", n, i)
		}
	}
	if s := f.stats(); s.Handshakes != 1 {
		t.Fatalf("%d handshakes: a dropped connection should not cost the session", s.Handshakes)
	}
}

// faye answers long polls empty at its timeout and advises an interval between connects: the client
// keeps connecting, waits the advised interval after each answer, and still gets events.
func TestOurClientFollowsFayesTimeoutAndIntervalAdvice(t *testing.T) {
	t.Parallel()
	interval := 300 * time.Millisecond
	// (faye forgets a client silent for twice its timeout: 2 s leaves room for a loaded machine.)
	f := startFaye(t, time.Second, interval)
	r := runClient(t, f.url, "/data/ContactChangeEvent")
	r.waitSubscribed(t)
	f.await(func(s fayeStats) bool { return len(s.Connects) >= 4 })
	f.publish("/data/ContactChangeEvent", 7)
	if n := r.next(t); n != 7 {
		t.Fatalf("event %d", n)
	}
	c := f.stats().Connects
	for i := 1; i < len(c); i++ {
		if gap := time.Duration(c[i][0]-c[i-1][1]) * time.Millisecond; c[i][0] > 0 && gap < interval-20*time.Millisecond {
			t.Fatalf("connect %d came %v after the previous answer; faye advised %v", i, gap, interval)
		}
	}
}

// Advice reconnect "none" on a connect stops the client with ErrNoReconnect instead of looping.
func TestOurClientStopsWhenFayeAdvisesNotToReconnect(t *testing.T) {
	t.Parallel()
	f := startFaye(t, 500*time.Millisecond, 0)
	r := runClient(t, f.url, "/data/ChangeEvents")
	r.waitSubscribed(t)
	f.control("refuse", nil)
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if !errors.Is(err, ErrNoReconnect) || !strings.Contains(err.Error(), "403::Forbidden") {
			t.Fatalf("Run ended with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the client kept going after advice reconnect none")
	}
}
