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
}

// snapSettings is orgSettings, exported for gob.
type snapSettings struct {
	PasswordFlow, SOAPLogin, PKCERequired, MyDomain, APIEnabled, ViewAllData bool
	Scopes                                                                   []string
	MaxVersion                                                               int
	Objects                                                                  map[string]ObjectAccess
}

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
			rows[i] = snapRow{Vals: r.vals, Deleted: r.deleted, DeletedAt: r.deletedAt}
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
		if str, ok := r.vals[i].(string); ok && str != "" && !r.deleted {
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
			t.restore(&row{vals: vals, deleted: sr.Deleted, deletedAt: sr.DeletedAt})
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
			for i, f := range old.Fields {
				if j, _ := def.field(f.Name); j >= 0 && i < len(r.vals) {
					vals[j] = r.vals[i]
				}
			}
			r.vals = vals
			nt.restore(r)
		}
		o.tables[lower(def.Name)] = nt
	}
}

// Persister keeps an org's state in a Postgres table, so the embedded demo org survives restarts: it
// saves shortly after changes and when stopped.
type Persister struct {
	org   *Org
	pool  *pgxpool.Pool
	log   *slog.Logger
	every time.Duration

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	saved    int64
}

// Restore loads the org saved in pool (table sforg_snapshot), or makes a new one with opts when
// nothing was saved yet.
func Restore(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Org, bool, error) {
	var data []byte
	err := pool.QueryRow(ctx, `SELECT data FROM sforg_snapshot WHERE id = 1`).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return New(opts), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sforg: read saved org: %w", err)
	}
	o, err := Load(bytes.NewReader(data), opts)
	if err != nil {
		return nil, false, err
	}
	return o, true, nil
}

// NewPersister returns a persister saving every interval when the org changed.
func NewPersister(org *Org, pool *pgxpool.Pool, log *slog.Logger, every time.Duration) *Persister {
	if every <= 0 {
		every = 2 * time.Second
	}
	return &Persister{org: org, pool: pool, log: log, every: every, done: make(chan struct{}), saved: -1}
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
				if err := p.saveIfChanged(ctx); err != nil {
					p.log.Warn("save simulated org", "err", err)
				}
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
		if err := p.saveIfChanged(ctx); err != nil {
			p.log.Warn("save simulated org", "err", err)
		}
	})
}

func (p *Persister) saveIfChanged(ctx context.Context) error {
	v := p.org.mutations()
	if v == p.saved {
		return nil
	}
	var buf bytes.Buffer
	if err := p.org.Save(&buf); err != nil {
		return err
	}
	if _, err := p.pool.Exec(ctx, `INSERT INTO sforg_snapshot (id, data, saved_at) VALUES (1, $1, now())
		ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, saved_at = now()`, buf.Bytes()); err != nil {
		return fmt.Errorf("sforg: save: %w", err)
	}
	p.saved = v
	return nil
}
