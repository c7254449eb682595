package engine

import (
	"testing"
	"time"
)

// A poll is due on its connection's grid of the interval (so the connection's polls share a call),
// and never more than an interval after the previous poll began, wherever on the grid that one
// began: a poll off the grid (the first after a load, one a change event asked for) rejoins the grid
// at the next slot instead of skipping it. A slot a moment after the last poll (the database's clock
// stamps it, and may run a little behind) counts as the one it served.
func TestAPollIsDueOnItsConnectionsGridAtMostAnIntervalAfterTheLastBegan(t *testing.T) {
	for _, interval := range []time.Duration{300 * time.Millisecond, 5 * time.Second, 10 * time.Minute} {
		slack := slotSlack(interval)
		base := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
		for _, connID := range []int64{1, 2, 3, 17} {
			grid := pollSlot(connID, base, interval)
			step := interval / 997 // not a divisor of the interval: every phase of the grid is tried
			for last := base; last.Before(base.Add(2 * interval)); last = last.Add(step) {
				slot := pollSlot(connID, last, interval)
				if gap := slot.Sub(last); gap < slack || gap >= interval+slack {
					t.Fatalf("interval %v, connection %d: the poll after one begun at %s is due %v later, want at least %v and under %v",
						interval, connID, last.Format(time.TimeOnly+".000"), gap, slack, interval+slack)
				}
				if off := slot.Sub(grid) % interval; off != 0 {
					t.Fatalf("interval %v, connection %d: slot %s is %v off the connection's grid", interval, connID, slot.Format(time.TimeOnly+".000"), off)
				}
			}
		}
	}
}

// The first poll after a load that began just before a slot of the grid is due at the next slot:
// the records changed while the table loaded wait at most an interval, not one and a half.
func TestTheFirstPollAfterALoadJustBeforeASlotIsDueWithinAnInterval(t *testing.T) {
	interval := 5 * time.Second
	slot := pollSlot(1, time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC), interval)
	loadBegan := slot.Add(-interval / 3)
	if due := pollSlot(1, loadBegan, interval); due.Sub(loadBegan) > interval {
		t.Fatalf("a load began %v before a slot; its first poll is due %v after it began, want at most the interval %v",
			interval/3, due.Sub(loadBegan), interval)
	}
}
