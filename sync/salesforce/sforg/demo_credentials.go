package sforg

// The simulated org's user and connected app when Options leaves them empty: the demo org pgforce
// serves, its tests and its benchmarks all sign in with these.
const (
	DemoUsername     = "admin@pgforce.test"
	DemoPassword     = "demo"
	DemoClientID     = "pgforce-demo"
	DemoClientSecret = "pgforce-demo-secret"
	DemoOrgName      = "pgforce Simulated Org" // the organization's name, as OAuth's identity gives it
)
