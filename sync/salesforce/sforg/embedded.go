package sforg

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
)

// EmbeddedOptions configure the simulated org pgforce serves itself.
type EmbeddedOptions struct {
	// URL is where it is served (the dashboard's base URL and /sim): its saved state belongs to that
	// URL, so another instance on the same database keeps its own org.
	URL          string
	ControlToken string // bearer token of the control API; generated when empty
	CallbackURL  string // the dashboard's OAuth callback: the demo app's one registered callback
	PubSubAddr   string // where its Pub/Sub API listens
	// Latency is added to each of its API calls (Options.Latency).
	Latency time.Duration
}

// Embedded is the simulated org `pgforce serve` offers under /sim: restored from the database (or
// seeded with demo data), saved back as it changes, with its Pub/Sub API.
type Embedded struct {
	Org     *Org
	PubSub  *PubSubServer
	persist *Persister
}

// StartEmbedded starts the embedded org; Stop saves and stops it.
func StartEmbedded(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, o EmbeddedOptions) (*Embedded, error) {
	if o.ControlToken == "" {
		o.ControlToken = keyring.RandomToken(24)
	}
	// The demo connected app has one callback URL, the dashboard's: its login page sends browsers
	// nowhere else.
	// It lets `pgforce connection create --username --password` sign in: it allows the OAuth
	// username-password flow, which real orgs created since Summer '23 block.
	saved, err := Restore(ctx, pool, o.URL, Options{BasePath: "/sim", Seed: 1, ControlToken: o.ControlToken, RedirectURIs: []string{o.CallbackURL},
		AllowPasswordFlow: true, Latency: o.Latency})
	if err != nil {
		return nil, err
	}
	if !saved.Restored {
		log.Info("created the simulated Salesforce org with demo data", "url", o.URL)
	}
	org := saved.Org
	e := &Embedded{Org: org, persist: NewPersister(saved, pool, log, 2*time.Second), PubSub: NewPubSubServer(org, PubSubOptions{Addr: o.PubSubAddr})}
	if err := e.persist.Start(ctx); err != nil {
		return nil, err
	}
	if err := e.PubSub.Start(ctx); err != nil {
		e.persist.Stop()
		return nil, fmt.Errorf("%w (PGFORCE_SIM_PUBSUB_ADDR)", err)
	}
	return e, nil
}

// Stop stops the Pub/Sub API and saves the org a last time.
func (e *Embedded) Stop() {
	e.PubSub.Stop()
	e.persist.Stop()
}
