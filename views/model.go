// Package views renders the dashboard's pages with templ. Views take view models shaped like the
// screen and call no services; every value is escaped by templ.
package views

// Page is what the shared layout needs.
type Page struct {
	Title     string
	Nav       string // active navigation entry: overview, mappings, explorer, activity, settings
	UserEmail string // empty on pages shown before sign-in
	UserRole  string
	CanAct    bool // admins act; viewers see actions disabled
	Flashes   []Flash
	Banner    *Banner // connection-wide warning shown on every page (e.g. re-authorization needed)
	// Connections feeds the header's connection switcher (shown when there are several).
	Connections []ConnChoice
	ConnName    string // the current connection, shown in the header
	Path        string // the current page, where the switcher sends its choice
	Attention   int    // problems needing attention, counted in the title ("(2) Mappings · pgforce")
	SimOrg      bool   // the built-in simulated org runs here and the user is an admin: its page is in the menu
}

// ConnChoice is one entry of the connection switcher.
type ConnChoice struct {
	ID      int64
	Name    string
	Current bool
}

// Flash is a one-time message shown after an action.
type Flash struct {
	Kind    string // success, error, info, warning
	Message string
}

// Banner is a persistent warning with an optional action button.
type Banner struct {
	Kind        string
	Message     string
	ActionURL   string // POST target, or empty
	ActionLabel string
}

// NavItem is an entry of the top navigation.
type NavItem struct {
	Key, Label, URL string
}

// Nav lists the top navigation in order.
var Nav = []NavItem{
	{"overview", "Overview", "/"},
	{"mappings", "Mappings", "/mappings"},
	{"explorer", "Explorer", "/explorer"},
	{"activity", "Activity", "/activity"},
	{"settings", "Settings", "/settings"},
}

// FormErrors maps form field names to messages; "" is a message for the whole form.
type FormErrors map[string]string

// SimOrgPage is the built-in simulated org's control panel.
type SimOrgPage struct {
	URL, Username, Password string
	Objects                 []SimObject
	Faults                  []string // the faults in force, described
	FaultChoices            []SimFault
}

// SimObject is an object of the simulated org with its record count.
type SimObject struct {
	Name, Label string
	Count       int
}

// SimFault is a fault the Simulated org page can inject.
type SimFault struct{ Key, Label string }
