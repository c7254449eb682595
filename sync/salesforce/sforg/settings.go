package sforg

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Settings are what an org's admin changes in Setup, and the integration user's profile. Options
// give the starting values; Configure changes them at runtime (the control API's PATCH
// /_sforg/settings), so tests and demos can produce each thing `pgforce doctor` looks for. A nil
// field is left as it is.
type Settings struct {
	// PasswordFlow is Setup's "Allow OAuth Username-Password Flows" (off in orgs created since Summer '23).
	PasswordFlow *bool `json:"passwordFlow,omitempty"`
	// SOAPLogin enables SOAP API login() (off by default in new orgs; never available from API 65.0).
	SOAPLogin *bool `json:"soapLogin,omitempty"`
	// PKCERequired is the connected app's "Require Proof Key for Code Exchange (PKCE)".
	PKCERequired *bool `json:"pkceRequired,omitempty"`
	// MyDomain says the org has a My Domain: the identity's urls carry custom_domain.
	MyDomain *bool `json:"myDomain,omitempty"`
	// Scopes are the OAuth scopes the connected app may grant; tokens get the requested ones among them.
	Scopes []string `json:"scopes,omitempty"`
	// APIEnabled is the integration user's "API Enabled" permission.
	APIEnabled *bool `json:"apiEnabled,omitempty"`
	// ViewAllData is the integration user's "View All Data" permission: without it, queries see only
	// records the user owns (the org's sharing model is private).
	ViewAllData *bool `json:"viewAllData,omitempty"`
	// MaxVersion caps the API versions the org offers (an older release); 0 keeps the current one.
	MaxVersion *int `json:"maxVersion,omitempty"`
}

// ObjectAccess is the integration user's object permissions on one object.
type ObjectAccess struct {
	Read   bool `json:"read"`
	Create bool `json:"create"`
	Edit   bool `json:"edit"`
	Delete bool `json:"delete"`
}

// orgSettings is the state Settings change.
type orgSettings struct {
	passwordFlow, soapLogin, pkceRequired, myDomain bool
	apiEnabled, viewAllData                         bool
	scopes                                          []string
	maxVersion                                      int
	objects                                         map[string]ObjectAccess // lower-case object → access; absent: full
}

// defaultScopes are the built-in connected app's (README: api, refresh_token and id).
var defaultScopes = []string{"api", "refresh_token", "id"}

func (o *Org) defaultSettings() orgSettings {
	return orgSettings{passwordFlow: o.opts.AllowPasswordFlow, soapLogin: o.opts.AllowSOAPLogin, pkceRequired: !o.opts.PKCEOptional,
		myDomain: true, apiEnabled: true, viewAllData: true, scopes: defaultScopes, maxVersion: latestVersionNumber, objects: map[string]ObjectAccess{}}
}

// Configure changes the org's settings.
func (o *Org) Configure(s Settings) error {
	if s.MaxVersion != nil && (*s.MaxVersion < minVersionNumber || *s.MaxVersion > latestVersionNumber) {
		return fmt.Errorf("maxVersion must be between %d and %d", minVersionNumber, latestVersionNumber)
	}
	for _, sc := range s.Scopes {
		if !slices.Contains([]string{"api", "refresh_token", "offline_access", "id", "openid", "web", "full", "profile", "email"}, sc) {
			return fmt.Errorf("unknown OAuth scope %q", sc)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	st := &o.settings
	set(&st.passwordFlow, s.PasswordFlow)
	set(&st.soapLogin, s.SOAPLogin)
	set(&st.pkceRequired, s.PKCERequired)
	set(&st.myDomain, s.MyDomain)
	set(&st.apiEnabled, s.APIEnabled)
	set(&st.viewAllData, s.ViewAllData)
	if s.Scopes != nil {
		st.scopes = slices.Clone(s.Scopes)
	}
	if s.MaxVersion != nil {
		st.maxVersion = *s.MaxVersion
	}
	o.syncPermissionRow()
	o.schemaModified = o.opts.Now().UTC().Add(time.Second)
	o.muts.Add(1)
	return nil
}

// SetObjectAccess sets the integration user's permissions on an object (Setup → Profiles → Object
// Settings). Without Read the object is invisible to the API, as in Salesforce.
func (o *Org) SetObjectAccess(object string, a ObjectAccess) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.table(object)
	if t == nil {
		return fmt.Errorf("no object %s", object)
	}
	if !a.Read && (a.Create || a.Edit || a.Delete) {
		return fmt.Errorf("create, edit and delete need read")
	}
	o.settings.objects[strings.ToLower(t.def.Name)] = a
	o.schemaModified = o.opts.Now().UTC().Add(time.Second)
	return nil
}

// access returns the integration user's permissions on an object (call with the lock held).
func (o *Org) access(t *table) ObjectAccess {
	if a, ok := o.settings.objects[strings.ToLower(t.def.Name)]; ok {
		a.Create = a.Create && !t.def.NotCreateable
		a.Edit = a.Edit && !t.def.NotUpdateable
		a.Delete = a.Delete && !t.def.NotDeletable
		return a
	}
	return ObjectAccess{Read: true, Create: !t.def.NotCreateable, Edit: !t.def.NotUpdateable, Delete: !t.def.NotDeletable}
}

// readable returns an object's table when the integration user may see it (nil otherwise).
func (o *Org) readable(name string) *table {
	t := o.table(name)
	if t == nil || !o.access(t).Read {
		return nil
	}
	return t
}

// canWrite answers Salesforce's refusal for a write the integration user may not make (nil when allowed).
func (o *Org) canWrite(t *table, op string) *apiError {
	a := o.access(t)
	allowed := map[string]bool{"create": a.Create, "update": a.Edit, "delete": a.Delete}[op]
	if allowed {
		return nil
	}
	return &apiError{Status: 400, Code: "INSUFFICIENT_ACCESS_OR_READONLY", Fields: []string{},
		Message: fmt.Sprintf("insufficient access rights on object %s: the user may not %s it", t.def.Name, op)}
}

// sees reports whether the integration user sees a record: its own, or any with View All Data.
func (o *Org) sees(t *table, r *row) bool {
	if o.settings.viewAllData {
		return true
	}
	i, f := t.def.field("OwnerId")
	return f == nil || r.val(i) == o.userID
}

// syncPermissionRow keeps UserPermissionAccess (the user's effective system permissions, one
// queryable row) in step with the settings.
func (o *Org) syncPermissionRow() {
	t := o.table("UserPermissionAccess")
	if t == nil {
		return
	}
	if len(t.rows) == 0 {
		r := &row{stored: make([]any, len(t.def.Fields))}
		r.stored[0] = newID(t.def.KeyPrefix, 1)
		t.rows, t.byID[r.val(0).(string)] = append(t.rows, r), r
	}
	r := t.rows[0]
	st := o.settings
	for name, v := range map[string]bool{"PermissionsApiEnabled": st.apiEnabled, "PermissionsViewAllData": st.viewAllData,
		"PermissionsModifyAllData": st.viewAllData, "PermissionsViewSetup": true, "PermissionsCustomizeApplication": true} {
		r.stored[idx(t, name)] = v
	}
}

// allowed checks a write of the integration user under the lock (nil when allowed).
func (o *Org) allowed(t *table, op string) *apiError {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.canWrite(t, op)
}
