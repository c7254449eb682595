package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/salesforce/sforg"
)

// Several pgforce processes on one database share its connections fairly: each holds about M/N
// leases, one that joins takes its share within a lease period, and when one is killed its
// connections move to the others within 15 s; no connection ever has two holders (the lease row is
// the fence). Three instances, twelve connections, the default 10 s lease.

func TestConnectionsAreSharedFairlyAmongInstancesAndMoveWhenOneDies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pgforce processes for about half a minute")
	}
	r := newCrashRig(t, 12)
	const conns, ttl = 12, 10 * time.Second
	for i := 1; i < conns; i++ {
		c, err := r.admin.Connections.Create(r.ctx, crashAdmin, admin.NewConnection{Name: fmt.Sprintf("shared %02d", i), Schema: fmt.Sprintf("%s%02d", r.schema, i),
			OrgType: connection.Simulated, LoginURL: r.orgURL})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.admin.Connections.AuthorizeWithPassword(r.ctx, crashAdmin, c.ID, sforg.DemoUsername, sforg.DemoPassword); err != nil {
			t.Fatal(err)
		}
	}
	// Info level: the instances' logs (printed when the test fails) say which connections each took and handed over.
	r.env = append(r.env, "PGFORCE_LEASE_TTL="+ttl.String(), "PGFORCE_LOG_LEVEL=info")
	procs := map[string]*exec.Cmd{}
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.Process.Kill()
			_ = p.Wait()
		}
	})
	start := func(name string) { procs[name] = r.spawn() }
	kill := func(name string) {
		_ = procs[name].Process.Kill()
		_ = procs[name].Wait()
		delete(procs, name)
	}
	// balanced waits until the live processes hold every connection, want[name] each, and says how long it took.
	balanced := func(what string, timeout time.Duration, want map[string]int) time.Duration {
		t.Helper()
		began := time.Now()
		r.eventually(what, timeout, func() (bool, string) {
			held, holders := r.leaseHolders()
			got, total, pids := map[string]int{}, 0, map[string]int{}
			for name, p := range procs {
				got[name] = held[fmt.Sprintf("-%d-", p.Process.Pid)]
				pids[name] = p.Process.Pid
				total += got[name]
			}
			detail := fmt.Sprint(got, " of ", total, "; processes ", pids, "; holders ", holders)
			for name, n := range want {
				if got[name] != n {
					return false, detail
				}
			}
			return total == conns, detail
		})
		took := time.Since(began)
		t.Logf("%s: %v", what, took.Round(100*time.Millisecond))
		return took
	}

	start("a")
	balanced("a alone holds every connection", 30*time.Second, map[string]int{"a": 12})
	start("b")
	if took := balanced("b joins and takes half", 30*time.Second, map[string]int{"a": 6, "b": 6}); took > ttl {
		t.Errorf("b took its share in %v, more than a lease period (%v)", took, ttl)
	}
	start("c")
	if took := balanced("c joins: 4 each", 30*time.Second, map[string]int{"a": 4, "b": 4, "c": 4}); took > ttl {
		t.Errorf("c took its share in %v, more than a lease period (%v)", took, ttl)
	}
	kill("c")
	if took := balanced("c killed: its connections move to a and b", 30*time.Second, map[string]int{"a": 6, "b": 6}); took > 15*time.Second {
		t.Errorf("the connections of a killed instance moved in %v, more than 15 s", took)
	}
	start("c")
	if took := balanced("c restarted: 4 each again", 30*time.Second, map[string]int{"a": 4, "b": 4, "c": 4}); took > ttl {
		t.Errorf("the restarted instance took its share in %v, more than a lease period (%v)", took, ttl)
	}
	kill("a")
	if took := balanced("a killed: 6 each for b and c", 30*time.Second, map[string]int{"b": 6, "c": 6}); took > 15*time.Second {
		t.Errorf("the connections of a killed instance moved in %v, more than 15 s", took)
	}
}

// leaseHolders counts the unexpired leases of each holder; a holder's name carries its process id
// as its second field from the end ("host-PID-token", lease.HolderName), and the map is keyed by "-PID-". It also counts them by the holders' names as read.
func (r *crashRig) leaseHolders() (map[string]int, map[string]int) {
	rows, err := r.pool.Query(r.ctx, `SELECT holder FROM leases WHERE expires_at > now()`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	out, names := map[string]int{}, map[string]int{}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			r.t.Fatal(err)
		}
		names[h]++
		if parts := strings.Split(h, "-"); len(parts) >= 3 {
			out["-"+parts[len(parts)-2]+"-"]++
		}
	}
	return out, names
}
