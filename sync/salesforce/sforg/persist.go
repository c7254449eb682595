package sforg

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/salesforce/bayeux"
)

func init() {
	gob.Register(time.Time{})
}

const snapshotVersion = 1

// savedOrg is everything that makes an org itself: metadata, records, sequences and authorizations
// (so connections authorized before a restart keep working).
type savedOrg struct {
	Version   int
	OrgID     string
	UserID    string
	Seq       map[string]uint64
	LastStamp time.Time
	Objects   []*ObjectDef
	Rows      map[string][]snapRow
	AutoNum   map[string]int
	Grants    []string
	Sessions  map[string]snapSession
	APIUsed   int
	// Settings and the grants' scopes; absent from snapshots of earlier versions (Options apply).
	Settings    *snapSettings
	GrantScopes map[string]string
	// Change Data Capture: the entity selection (CDCSaved tells an empty one from a snapshot made
	// before it was kept) and the event log, so replay ids go on where they stopped.
	CDC      []string
	CDCSaved bool
	Overflow int
	Events   bayeux.SavedLog
}

// snapSettings is orgSettings, exported for gob.
type snapSettings struct {
	PasswordFlow, SOAPLogin, PKCERequired, MyDomain, APIEnabled, ViewAllData bool
	Scopes                                                                   []string
	MaxVersion                                                               int
	Objects                                                                  map[string]ObjectAccess
}

// eventsKept is how many of the newest change events a snapshot keeps for replay after a restart;
// subscribing from before them is refused as outside the replay window.
const eventsKept = 10_000

type snapRow struct {
	Vals      []any
	Deleted   bool
	DeletedAt time.Time
}

type snapSession struct {
	Expires time.Time
	Refresh string
	Scope   string
}

// Save writes the org's state (compact gob).
func (o *Org) Save(w io.Writer) error {
	o.mu.RLock()
	s := savedOrg{Version: snapshotVersion, OrgID: o.orgID, UserID: o.userID, Seq: o.seq, LastStamp: o.lastStamp,
		Rows: map[string][]snapRow{}, AutoNum: map[string]int{}, Sessions: map[string]snapSession{}, APIUsed: o.apiUsed}
	for _, name := range o.objectNames() {
		t := o.table(name)
		s.Objects = append(s.Objects, t.def)
		rows := make([]snapRow, len(t.rows))
		for i, r := range t.rows {
			rows[i] = snapRow{Vals: r.values(), Deleted: r.deleted, DeletedAt: r.deletedAt}
		}
		s.Rows[t.def.Name], s.AutoNum[t.def.Name] = rows, t.autoNum
	}
	st := o.settings
	s.Settings = &snapSettings{PasswordFlow: st.passwordFlow, SOAPLogin: st.soapLogin, PKCERequired: st.pkceRequired, MyDomain: st.myDomain,
		APIEnabled: st.apiEnabled, ViewAllData: st.viewAllData, Scopes: st.scopes, MaxVersion: st.maxVersion, Objects: st.objects}
	s.GrantScopes = map[string]string{}
	for rt, g := range o.auth.grants {
		if !g.revoked {
			s.Grants = append(s.Grants, rt)
			s.GrantScopes[rt] = g.scope
		}
	}
	for at, sess := range o.auth.sessions {
		ss := snapSession{Expires: sess.expires, Scope: sess.scope}
		if sess.grant != nil {
			ss.Refresh = sess.grant.refresh
		}
		s.Sessions[at] = ss
	}
	s.CDCSaved, s.Overflow = true, o.overflowAt
	for key := range o.cdc {
		if t := o.tables[key]; t != nil {
			s.CDC = append(s.CDC, t.def.Name)
		}
	}
	s.Events = o.bus.Save(eventsKept)
	err := gob.NewEncoder(w).Encode(&s)
	o.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("sforg: save: %w", err)
	}
	return nil
}

// restore adds a saved row to a table as it was: by id, and by its unique values unless deleted.
func (t *table) restore(r *row) {
	t.rows = append(t.rows, r)
	t.byID[t.id(r)] = r
	for i, idx := range t.unique {
		if str, ok := r.val(i).(string); ok && str != "" && !r.deleted {
			idx[lower(str)] = r
		}
	}
}

// Load builds an org from a saved state.
func Load(r io.Reader, opts Options) (*Org, error) {
	var s savedOrg
	if err := gob.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("sforg: load: %w", err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("sforg: load: savedOrg version %d, expected %d", s.Version, snapshotVersion)
	}
	demo := opts.Seed > 0
	opts.Seed = 0 // the records come from the savedOrg
	o := New(opts)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.orgID, o.userID, o.seq, o.lastStamp, o.apiUsed = s.OrgID, s.UserID, s.Seq, s.LastStamp, s.APIUsed
	o.tables = map[string]*table{}
	for _, def := range s.Objects {
		def.reindex()
		t := newTable(def)
		t.autoNum = s.AutoNum[def.Name]
		for _, sr := range s.Rows[def.Name] {
			vals := sr.Vals
			for len(vals) < len(def.Fields) {
				vals = append(vals, nil)
			}
			t.restore(&row{stored: vals, deleted: sr.Deleted, deletedAt: sr.DeletedAt})
		}
		o.tables[lower(def.Name)] = t
	}
	for _, rt := range s.Grants {
		o.auth.grants[rt] = &grant{refresh: rt, scope: s.GrantScopes[rt]}
	}
	for at, ss := range s.Sessions {
		o.auth.sessions[at] = &session{userID: o.userID, expires: ss.Expires, grant: o.auth.grants[ss.Refresh], scope: ss.Scope}
	}
	if st := s.Settings; st != nil {
		o.settings = orgSettings{passwordFlow: st.PasswordFlow, soapLogin: st.SOAPLogin, pkceRequired: st.PKCERequired, myDomain: st.MyDomain,
			apiEnabled: st.APIEnabled, viewAllData: st.ViewAllData, scopes: st.Scopes, maxVersion: st.MaxVersion, objects: st.Objects}
		if o.settings.objects == nil {
			o.settings.objects = map[string]ObjectAccess{}
		}
		if o.settings.maxVersion < minVersionNumber || o.settings.maxVersion > latestVersionNumber {
			o.settings.maxVersion = latestVersionNumber
		}
	}
	if s.CDCSaved { // else a snapshot from before the selection was kept: the options' selection stays
		o.cdc, o.overflowAt = map[string]bool{}, s.Overflow
		for _, name := range s.CDC {
			o.cdc[lower(name)] = true
		}
	} else {
		o.cdc = o.initialCDC(demo)
	}
	o.bus.Restore(s.Events)
	o.upgrade()
	o.syncPermissionRow()
	return o, nil
}

// upgrade brings a restored org's built-in objects up to this release, as a Salesforce release
// does: objects and fields added since the org was saved appear (empty), fields of the same type
// take the current metadata (child relationship names, compound fields, picklist values), and what an
// admin changed or added (a field's new type, new fields, validation rules) stays.
func (o *Org) upgrade() {
	for _, cur := range standardObjects(o.opts.Now().UTC()) {
		t := o.table(cur.Name)
		if t == nil {
			o.tables[lower(cur.Name)] = newTable(cur)
			continue
		}
		old := t.def
		def := *cur
		def.Fields, def.KeyPrefix, def.Rules, def.Modified = nil, old.KeyPrefix, old.Rules, old.Modified
		for _, f := range cur.Fields {
			if _, was := old.field(f.Name); was != nil && was.Type != f.Type {
				f = was // the admin changed its type
			}
			def.Fields = append(def.Fields, f)
		}
		for _, f := range old.Fields {
			if !cur.has(f.Name) {
				def.Fields = append(def.Fields, f)
			}
		}
		def.reindex()
		nt := newTable(&def)
		nt.autoNum = t.autoNum
		for _, r := range t.rows {
			vals := make([]any, len(def.Fields))
			was := r.values()
			for i, f := range old.Fields {
				if j, _ := def.field(f.Name); j >= 0 && i < len(was) {
					vals[j] = was[i]
				}
			}
			r.stored, r.gen = vals, nil
			nt.restore(r)
		}
		o.tables[lower(def.Name)] = nt
	}
}

// ErrNotOwner reports that another process saved the same org since this one loaded it: two
// processes serve the simulated org at the same URL, and this one no longer saves.
var ErrNotOwner = errors.New("sforg: another process saved this simulated org")

// Persister keeps an org's state in a Postgres table, so the embedded demo org survives restarts: it
// saves shortly after changes and when stopped. The saved state belongs to one org, named by its
// owner (the URL it is served at): instances sharing a database each keep their own, and a save is a
// compare-and-set on the generation it loaded, so a second process serving the same URL cannot
// overwrite the first's state unnoticed.
type Persister struct {
	org   *Org
	pool  *pgxpool.Pool
	log   *slog.Logger
	every time.Duration
	owner string

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	saved    int64
	gen      int64 // generation of the saved state this process has (0: none saved yet)
	lost     bool  // another process saved: stop saving
}

// Saved is an org restored by Restore, with what its Persister needs to keep saving it.
type Saved struct {
	Org      *Org
	Restored bool // false: nothing was saved for this owner, the org is new
	owner    string
	gen      int64
}

// Restore loads the org saved for owner in pool (table sforg_snapshot), or makes a new one with opts
// when nothing was saved yet. A state saved before states had owners is adopted by the first owner
// to ask (once).
func Restore(ctx context.Context, pool *pgxpool.Pool, owner string, opts Options) (Saved, error) {
	if owner == "" {
		return Saved{}, errors.New("sforg: restore needs the owner of the saved org (the URL it is served at)")
	}
	var data []byte
	var gen int64
	err := pool.QueryRow(ctx, `SELECT data, generation FROM sforg_snapshot WHERE owner = $1`, owner).Scan(&data, &gen)
	if errors.Is(err, pgx.ErrNoRows) {
		err = pool.QueryRow(ctx, `UPDATE sforg_snapshot SET owner = $1 WHERE owner = '' RETURNING data, generation`, owner).Scan(&data, &gen)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return Saved{Org: New(opts), owner: owner}, nil
	}
	if err != nil {
		return Saved{}, fmt.Errorf("sforg: read saved org: %w", err)
	}
	o, err := Load(bytes.NewReader(data), opts)
	if err != nil {
		return Saved{}, err
	}
	return Saved{Org: o, Restored: true, owner: owner, gen: gen}, nil
}

// NewPersister returns a persister saving the restored org every interval when it changed.
func NewPersister(s Saved, pool *pgxpool.Pool, log *slog.Logger, every time.Duration) *Persister {
	if every <= 0 {
		every = 2 * time.Second
	}
	return &Persister{org: s.Org, pool: pool, log: log, every: every, owner: s.owner, gen: s.gen, done: make(chan struct{}), saved: -1}
}

// Start saves in the background until Stop.
func (p *Persister) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.save(ctx)
			}
		}
	}()
	return nil
}

// Stop saves a last time and stops; it is idempotent.
func (p *Persister) Stop() {
	p.stopOnce.Do(func() {
		if p.cancel != nil {
			p.cancel()
			<-p.done
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.save(ctx)
	})
}

func (p *Persister) save(ctx context.Context) {
	err := p.saveIfChanged(ctx)
	switch {
	case errors.Is(err, ErrNotOwner):
		p.log.Error("another pgforce process serves the same simulated org and saved it: this one stops saving its changes; give each instance its own PGFORCE_ADDR or PGFORCE_BASE_URL", "org", p.owner)
	case err != nil:
		p.log.Warn("save simulated org", "err", err)
	}
}

// saveIfChanged saves when the org changed since the last save; ErrNotOwner once another process
// saved the same owner's state (then never again).
func (p *Persister) saveIfChanged(ctx context.Context) error {
	if p.lost {
		return nil
	}
	v := p.org.mutations()
	if v == p.saved {
		return nil
	}
	var buf bytes.Buffer
	if err := p.org.Save(&buf); err != nil {
		return err
	}
	var gen int64
	err := p.pool.QueryRow(ctx, `INSERT INTO sforg_snapshot (owner, data, saved_at, generation) VALUES ($1, $2, now(), $3 + 1)
		ON CONFLICT (owner) DO UPDATE SET data = EXCLUDED.data, saved_at = now(), generation = EXCLUDED.generation
		WHERE sforg_snapshot.generation = $3
		RETURNING generation`, p.owner, buf.Bytes(), p.gen).Scan(&gen)
	if errors.Is(err, pgx.ErrNoRows) {
		p.lost = true
		return ErrNotOwner
	}
	if err != nil {
		return fmt.Errorf("sforg: save: %w", err)
	}
	p.saved, p.gen = v, gen
	return nil
}
